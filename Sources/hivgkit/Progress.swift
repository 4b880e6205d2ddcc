import Foundation
import HiVGCore
import HiVGFormats

/// A one-line progress display on stderr, shown only on a terminal and not with --quiet. The line is
/// cleared before any other output (`Console`), and fits the terminal's width.
final class Progress: @unchecked Sendable {
    /// Units to reach 100 % (settable once the work is known).
    var total: Int
    private let label: String
    private let enabled: Bool
    private var done = 0
    private var lastDraw = Date.distantPast
    private let width: Int

    /// Width of the line on screen now (0: none).
    nonisolated(unsafe) private static var shown = 0
    private static let lock = NSLock()

    init(label: String, total: Int, quiet: Bool) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = !quiet && isatty(STDERR_FILENO) != 0
        var w = winsize()
        width = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &w) == 0 && w.ws_col > 0 ? Int(w.ws_col) - 1 : 79
    }

    func advance(by n: Int = 1, item: String = "") {
        done = done.saturatingAdd(n)
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = Date()
        var text = "\(label) \(min(100, Int(100 * Double(done) / Double(total))))% " + TerminalText.escaped(item, limit: 200)
        if text.count > width { text = String(text.prefix(max(1, width - 1))) + "…" }
        Progress.lock.lock()
        defer { Progress.lock.unlock() }
        let pad = max(0, Progress.shown - text.count)
        FileHandle.standardError.write(Data(("\r" + text + String(repeating: " ", count: pad)).utf8))
        Progress.shown = text.count
    }

    func finish() {
        guard enabled else { return }
        Progress.clearLine()
    }

    /// Clears the progress line on screen, if any, so the next output starts on a clean line.
    static func clearLine() {
        lock.lock()
        defer { lock.unlock() }
        guard shown > 0 else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: shown) + "\r").utf8))
        shown = 0
    }
}
