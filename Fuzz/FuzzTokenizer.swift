// fuzz-tokenizer: the input is text (bytes as UTF-8, invalid sequences replaced as Python's
// decode(errors="replace") would) through HiVG's tokenizer: ftfy's fix_text, HTML unescaping,
// Python's lower(), NFC, the word regex and BPE; rows must be 77 ids from start to end token.
import HiVGCore
@testable import HiVGPipeline

let fuzzTokenizer = try! CLIPTokenizer.bundled()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenize(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    defer { fuzzTokenizer.emptyCache() }  // each input starts cold; a run frees what it allocates
    guard let rows = try? fuzzTokenizer.tokenize([text]) else { return 0 }
    precondition(rows.count == 1 && rows[0].count == CLIPTokenizer.contextLength, "row of \(rows.first?.count ?? -1) ids")
    precondition(rows[0][0] == BPEVocabulary.startOfText && rows[0].contains(BPEVocabulary.endOfText), "row lacks start or end token")
    return 0
}
