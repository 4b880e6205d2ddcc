import ArgumentParser
import Foundation
import HiVGPipeline

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "The token ids HiVG feeds its text tower for each phrase (lower-case, then CLIP's tokenizer, 77 ids).",
        discussion: """
        Each TEXT is lower-cased as Python's str.lower() does, then tokenized as \
        clip.tokenize(text, context_length=77, truncate=True) does it: ftfy clean-up (without mojibake \
        repair), HTML entities, whitespace, CLIP's BPE. Put `--` before texts that start with a dash.

        Text output: per phrase, the ids up to the end token and their token spellings as CLIP's \
        vocabulary writes them (bytes mapped by bytes_to_unicode, </w> at word ends). With --json, \
        stdout is exactly {"input_ids": [[…77 ids…], …]}, one row per text, in order.
        """)

    @Argument(help: "Phrases to tokenize (empty ones too).")
    var texts: [String] = []

    @Flag(help: "Print {\"input_ids\": [[…], …]} instead of text.")
    var json = false

    func validate() throws {
        if texts.isEmpty { throw ValidationError("give at least one TEXT") }
    }

    func run() throws {
        let tokenizer: CLIPTokenizer
        do { tokenizer = try CLIPTokenizer.bundled() } catch {
            Console.error("\(error)")
            throw ExitCode(1)
        }
        let rows: [[Int32]]
        do { rows = try tokenizer.tokenize(texts) } catch {
            Console.error("\(error)")
            throw ExitCode(1)
        }
        var out = ""
        if json {
            // Python's json.dumps layout, written directly: the rows are 77 integers each.
            out = "{\"input_ids\": [" + rows.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]}\n"
        } else {
            for (text, row) in zip(texts, rows) {
                let used = row.firstIndex(of: BPEVocabulary.endOfText).map { $0 + 1 } ?? row.count
                out += "\(quoted(text)): \(used) of \(CLIPTokenizer.contextLength) ids\n"
                out += "  " + row[..<used].map(String.init).joined(separator: " ") + "\n"
                out += "  " + row[..<used].map { tokenizer.vocabulary.token(Int($0)) }.joined(separator: " ") + "\n"
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    /// The text in double quotes with controls escaped, so every phrase prints on one line.
    private func quoted(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case _ where u.value < 0x20 || (0x7F ... 0x9F).contains(u.value): r += String(format: "\\u{%X}", u.value)
            default: r.unicodeScalars.append(u)
            }
        }
        return r + "\""
    }
}
