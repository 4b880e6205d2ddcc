import ArgumentParser
import Foundation
import HiVGCore
import HiVGFormats

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify a .hivgw file (structure, then the CRC-32C of every tensor) or a GGUF file (structure, alignment, sizes).",
        discussion: """
        Opening a .hivgw file validates the header, the manifest (its own CRC-32C) and the layout of the \
        tensors; check also reads every tensor once and compares its checksum, and checks the padding. \
        A GGUF file has no checksums: check validates its KV pairs and tensor infos, that each tensor's \
        data sits at the aligned offset ggml expects with zero padding, and that the sizes add up. \
        Exit status: 0 intact; 1 damaged (each finding is named); 2 the file cannot be read at all.
        """)

    @Argument(help: "A .hivgw or GGUF file.")
    var file: String

    @OptionGroup var output: OutputOptionGroup

    func run() throws {
        if isGGUF { return try runGGUF() }
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

    private var isGGUF: Bool {
        guard let h = FileHandle(forReadingAtPath: file) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 4)) == Data("GGUF".utf8)
    }

    private func runGGUF() throws {
        let c: GGUFCheck
        do {
            c = try GGUFCheck.run(path: file)
        } catch let e as FormatError {
            let unreadable = e.kind == .io
            if output.json {
                try printJSON(["file": file, "ok": false, "format": "gguf", "error": ["kind": e.kind.rawValue, "message": e.description]])
            } else {
                FileHandle.standardError.write(Data(("hivgkit: " + (unreadable ? "error: " : "damaged: ")
                    + TerminalText.escaped(e.description, limit: 4000) + "\n").utf8))
            }
            throw ExitCode(unreadable ? 2 : 1)
        }
        let f = c.file
        if output.json {
            try printJSON([
                "file": file, "ok": c.ok, "format": "gguf", "version": Int(f.version), "tensors": f.tensors.count, "kv": f.kv.count,
                "alignment": f.alignment, "bytes_checked": c.dataBytes,
                "findings": c.findings.map { x -> [String: Any] in
                    var d: [String: Any] = ["message": x.message]
                    if let t = x.tensor { d["tensor"] = t }
                    if let o = x.offset { d["offset"] = o }
                    return d
                },
            ])
        } else if c.ok {
            print("\(file): ok: GGUF v\(f.version), \(f.tensors.count) tensor\(f.tensors.count == 1 ? "" : "s") (\(c.typeSummary)), "
                  + "\(f.kv.count) KV pairs, alignment \(f.alignment); \(humanBytes(c.dataBytes)) of tensor data laid out as ggml expects "
                  + "(GGUF has no checksums: structure, alignment and sizes checked)")
        } else {
            print("\(file): damaged: \(c.findings.count) finding\(c.findings.count == 1 ? "" : "s")")
            for x in c.findings {
                print("  " + (x.tensor.map { "`\($0)`: " } ?? "") + x.message + (x.offset.map { " (file offset \($0))" } ?? ""))
            }
        }
        if !c.ok { throw ExitCode(1) }
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
