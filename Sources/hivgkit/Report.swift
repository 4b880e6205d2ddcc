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
        FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
        throw ExitCode(1)
    }
}

/// Prints a JSON document with sorted keys (stable output) through the one JSON writer: floats stay
/// floats (`JSONValue`).
func printJSON(_ object: Any) throws {
    printJSON(JSONValue(any: object))
}

/// Prints a typed report as JSON (sorted keys, floats kept floats).
func printJSON<T: Encodable>(report: T) throws {
    printJSON(try JSONValueEncoder().encode(report))
}

func printJSON(_ value: JSONValue) {
    FileHandle.standardOutput.write(Data((value.rendered(pretty: true) + "\n").utf8))
}

/// `1.2 MB`-style sizes.
func humanBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n)
    var i = 0
    while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
    if i == 0 { return "\(n) B" }
    return (oneDecimal(v) ?? String(format: "%.1f", v)) + " " + units[i]
}

/// `213.2M`-style counts.
func humanCount(_ n: Int) -> String {
    if n < 1_000 { return String(n) }
    let v = n >= 1_000_000 ? Double(n) / 1e6 : Double(n) / 1e3
    return (oneDecimal(v) ?? String(format: "%.1f", v)) + (n >= 1_000_000 ? "M" : "K")
}
