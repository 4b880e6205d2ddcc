import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// Errors that mean bad data (exit 1), as opposed to usage errors (exit 64, ArgumentParser's).
private let dataErrors: [Any.Type] = [FormatError.self, CoreError.self, ModelError.self, SurgeryError.self,
                                      NativeFormatError.self, GraphError.self, LinearAlgebra.Failure.self,
                                      LinearAlgebra.LoadError.self]

/// Runs a command body, turning data errors into a message on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CustomStringConvertible & Error where dataErrors.contains(where: { $0 == type(of: e) }) {
        Console.error(e.description)
        throw ExitCode(1)
    }
}

/// What the commands write for a person: stdout lines, and stderr messages that first clear a progress
/// line on screen (a message never lands after a half-drawn bar).
enum Console {
    /// Prints report lines on stdout.
    /// Lines on stdout, each with control and invisible format characters escaped and cut at 4000
    /// characters: every report's human form goes through here, so no name or string from a file can
    /// rewrite the terminal or flood it (`--json` keeps them whole).
    static func print(_ lines: [String]) {
        Progress.clearLine()
        for l in lines { Swift.print(TerminalText.needsEscaping(l, limit: 4000) ? TerminalText.escaped(l, limit: 4000) : l) }
    }

    /// `hivgkit: error: MESSAGE` on stderr (control characters escaped, cut at 4000 characters).
    static func error(_ message: String, prefix: String = "error") {
        Progress.clearLine()
        FileHandle.standardError.write(Data(("hivgkit: \(prefix): " + TerminalText.escaped(message, limit: 4000) + "\n").utf8))
    }

    /// A line on stderr that is not an error (timings, batch summaries).
    static func note(_ message: String) {
        Progress.clearLine()
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Columns of the terminal on stdout, or nil when stdout is not a terminal (a pipe or a file: text
    /// is never cut there). `COLUMNS` overrides the terminal's own width.
    static var terminalWidth: Int? {
        guard isatty(STDOUT_FILENO) != 0 else { return nil }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c > 0 { return c }
        var w = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0 { return Int(w.ws_col) }
        return 80
    }
}
