import Foundation
import HiVGCore

/// A one-line progress display on stderr, shown only on a terminal and not with --quiet.
final class Progress {
    /// Units to reach 100 % (settable once the work is known).
    var total: Int
    private let label: String
    private let enabled: Bool
    private var done = 0
    private var lastDraw = Date.distantPast

    init(label: String, total: Int, quiet: Bool) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = !quiet && isatty(STDERR_FILENO) != 0
    }

    func advance(by n: Int = 1, item: String = "") {
        done = done.saturatingAdd(n)
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = Date()
        let pct = Int(100 * Double(done) / Double(total))
        let text = "\r\(label) \(pct)% \(item.prefix(60))"
        FileHandle.standardError.write(Data((text.padding(toLength: 90, withPad: " ", startingAt: 0)).utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 90) + "\r").utf8))
    }
}
