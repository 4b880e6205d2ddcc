import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify a native .hivgw file: its structure, then the CRC-32C of every tensor.",
        discussion: """
        Opening a .hivgw file validates the header, the manifest (its own CRC-32C) and the layout of the
        tensors; check also reads every tensor once and compares its checksum, and checks the padding.
        Exit status: 0 intact; 1 damaged (each damaged tensor is named); 2 the file cannot be read at all.
        """)

    @Argument(help: "A .hivgw file.")
    var file: String

    @OptionGroup var output: OutputOptionGroup

    func run() throws {
        let opened: NativeFile
        do {
            opened = try NativeFormat.read(path: file)
        } catch let e as NativeFormatError {
            report(nil, structural: e)
            throw ExitCode(1)
        } catch let e as FormatError {
            FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
            throw ExitCode(2)
        }
        let progress = Progress(label: "checking", total: opened.tensorBytes, quiet: output.quiet || output.json)
        let v: NativeFile.Verification
        do {
            v = try opened.verify { bytes, name in progress.advance(by: bytes, item: name) }
        } catch {
            progress.finish()
            FileHandle.standardError.write(Data(("hivgkit: error: " + TerminalText.escaped("\(error)", limit: 4000) + "\n").utf8))
            throw ExitCode(2)
        }
        progress.finish()
        report(opened, verification: v)
        if !v.ok { throw ExitCode(1) }
    }

    private func errorJSON(_ e: NativeFormatError) -> [String: Any] {
        var d: [String: Any] = ["kind": e.kind.rawValue, "message": e.message]
        if let t = e.tensor { d["tensor"] = t }
        if let o = e.offset { d["offset"] = o }
        return d
    }

    private func report(_ f: NativeFile?, structural: NativeFormatError? = nil, verification v: NativeFile.Verification? = nil) {
        if output.json {
            var doc: [String: Any] = ["file": file, "ok": structural == nil && (v?.ok ?? false)]
            if let structural { doc["error"] = errorJSON(structural) }
            if let f, let v {
                doc["version"] = Int(NativeFormat.version)
                doc["tensors"] = f.manifest.tensors.count
                doc["quantized_tensors"] = f.quantized.count
                doc["bytes_checked"] = v.bytesChecked
                doc["checksum"] = NativeFormat.checksumAlgorithm
                doc["damaged_tensors"] = v.damagedTensors
                doc["failures"] = v.failures.map(errorJSON)
            }
            try? printJSON(doc)
            return
        }
        if let structural {
            FileHandle.standardError.write(Data(("hivgkit: damaged: [\(structural.kind.rawValue)] " + structural.description + "\n").utf8))
            return
        }
        guard let f, let v else { return }
        if v.ok {
            print("\(file): ok: \(f.manifest.tensors.count) tensor\(f.manifest.tensors.count == 1 ? "" : "s"), \(humanBytes(v.bytesChecked)) checked (CRC-32C)")
            return
        }
        let damaged = v.damagedTensors
        print("\(file): damaged: \(damaged.count) of \(f.manifest.tensors.count) tensors fail their CRC-32C"
              + (v.failures.count > damaged.count ? ", \(v.failures.count - damaged.count) padding finding(s)" : ""))
        for e in v.failures {
            print("  [\(e.kind.rawValue)] " + (e.tensor.map { "`\($0)`: " } ?? "") + e.message
                  + (e.offset.map { " (file offset \($0))" } ?? ""))
        }
    }
}
