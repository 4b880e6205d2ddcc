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
        let report: CheckReport
        if isGGUF {
            do { report = CheckReport(file: file, gguf: try GGUFCheck.run(path: file)) } catch let e as FormatError {
                // A file the reader refuses: damaged (1), or unreadable (2).
                if output.json { try printJSON(report: CheckReport(file: file, ggufError: e)) } else {
                    Console.error(e.description, prefix: e.kind == .io ? "error" : "damaged")
                }
                throw ExitCode(e.kind == .io ? 2 : 1)
            }
        } else {
            let opened: NativeFile
            do { opened = try NativeFormat.read(path: file) } catch let e as NativeFormatError {
                if output.json { try printJSON(report: CheckReport(file: file, structural: e)) } else {
                    Console.error("[\(e.kind.rawValue)] " + e.description, prefix: "damaged")
                }
                throw ExitCode(1)
            } catch let e as FormatError {
                Console.error(e.description)
                throw ExitCode(2)
            }
            let progress = Progress(label: "checking", total: opened.tensorBytes, quiet: output.quiet || output.json)
            do {
                report = CheckReport(file: file, opened: opened, verification: try opened.verify { progress.advance(by: $0, item: $1) })
            } catch let e as CustomStringConvertible & Error {
                Console.error(e.description)
                throw ExitCode(2)
            }
            progress.finish()
        }
        if output.json { try printJSON(report: report) } else { Console.print(report.lines()) }
        if !report.ok { throw ExitCode(1) }
    }

    /// Through a map, which refuses a FIFO or a device without blocking (a plain open of a FIFO waits for
    /// a writer forever); a file that cannot be mapped is left to the `.hivgw` reader's error.
    private var isGGUF: Bool {
        guard let m = try? MappedFile(path: file) else { return false }
        return GGUFReader.looksLikeGGUF(m.bytes)
    }
}
