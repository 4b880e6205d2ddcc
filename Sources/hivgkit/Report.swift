import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel
import HiVGSurgery

/// Runs a command body, turning data errors into a message on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as FormatError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + e.description + "\n").utf8))
        throw ExitCode(1)
    } catch let e as CoreError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + e.description + "\n").utf8))
        throw ExitCode(1)
    } catch let e as ModelError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + e.description + "\n").utf8))
        throw ExitCode(1)
    } catch let e as SurgeryError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + e.description + "\n").utf8))
        throw ExitCode(1)
    } catch let e as NativeFormatError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + e.description + "\n").utf8))
        throw ExitCode(1)
    } catch let e as GraphError {
        FileHandle.standardError.write(Data(("hivgkit: error: " + e.description + "\n").utf8))
        throw ExitCode(1)
    }
}

/// Prints a JSON document with sorted keys (stable output).
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: jsonReady(object), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

private func jsonReady(_ v: Any) -> Any {
    switch v {
    case is NSNullLike: return NSNull()
    case let d as [String: Any]: return d.mapValues(jsonReady)
    case let a as [Any]: return a.map(jsonReady)
    default: return v
    }
}

/// `1.2 MB`-style sizes.
func humanBytes(_ n: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n)
    var i = 0
    while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}

/// `213.2M`-style counts.
func humanCount(_ n: Int) -> String {
    if n >= 1_000_000 { return String(format: "%.1fM", Double(n) / 1e6) }
    if n >= 1_000 { return String(format: "%.1fK", Double(n) / 1e3) }
    return String(n)
}
