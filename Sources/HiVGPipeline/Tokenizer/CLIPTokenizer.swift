import Foundation
import HiVGCore
import Synchronization

/// HiVG's text input: `clip.tokenize(phrase.lower(), context_length=77, truncate=True)` with OpenAI
/// CLIP's SimpleTokenizer (ftfy, `html.unescape` twice, whitespace clean-up, the CLIP pattern,
/// byte-level BPE). docs/tokenizer.md states the recipe and where it may differ from Python.
public final class CLIPTokenizer: Sendable {
    /// The sequence length every CLIP text tower takes.
    public static let contextLength = 77
    /// The merges and token table.
    public let vocabulary: BPEVocabulary
    /// SHA-256 (hex) of the gzip file the vocabulary came from (for exported tokenizer metadata).
    public let vocabularySHA256: String
    private let cache = Mutex<[[UInt8]: [Int32]]>([:])
    private static let cacheLimit = 1 << 16  // words; cleared when full so a long batch stays bounded

    /// The tokenizer over the vocabulary compiled into the binary (loaded once per process).
    public static func bundled() throws -> CLIPTokenizer { try bundledResult.get() }

    private static let bundledResult: Result<CLIPTokenizer, TokenizerError> = Result {
        // The embedded bytes are pinned by a test, so only the 48,895 lines CLIP reads are inflated.
        let text = try Gunzip.inflate(TokenizerData.vocabularyGzip, source: "bpe_simple_vocab_16e6.txt.gz (embedded)",
                                      stopAfterLines: BPEVocabulary.mergeCount + 1)
        return CLIPTokenizer(vocabulary: try BPEVocabulary(text: text, source: "bpe_simple_vocab_16e6.txt.gz (embedded)", checkHalves: false),
                                 sha256: TokenizerData.vocabularySHA256)
    }.mapError { $0 as! TokenizerError }

    /// A tokenizer over another merges file in CLIP's format (gzip; inflated whole and checked
    /// against its CRC-32). `source` names it in errors.
    public convenience init(gzippedVocabulary gz: [UInt8], source: String) throws {
        let text = try gz.withUnsafeBytes { try Gunzip.inflate($0, source: source) }
        var hash = SHA256()
        hash.update(gz)
        let hex = hash.finalize().map { String(format: "%02x", $0) }.joined()
        self.init(vocabulary: try BPEVocabulary(text: text, source: source), sha256: hex)
    }

    private init(vocabulary: BPEVocabulary, sha256: String) {
        self.vocabulary = vocabulary
        self.vocabularySHA256 = sha256
    }

    /// HiVG's rows: each text lower-cased as Python's `str.lower()` does (unless `lowercaseFirst` is
    /// false: plain `clip.tokenize`), then `[49406] + ids + [49407]`, cut to `contextLength` with the
    /// last id forced to 49407, zero-padded. Throws only if the embedded HTML entity table (parsed
    /// at the first '&') were unreadable.
    public func tokenize(_ texts: [String], contextLength: Int = CLIPTokenizer.contextLength,
                         lowercaseFirst: Bool = true) throws -> [[Int32]] {
        precondition(contextLength >= 2, "context length must hold the start and end tokens")
        return try texts.map { text in
            var row = [BPEVocabulary.startOfText] + (try encode(lowercaseFirst ? PythonText.lower(text) : text)) + [BPEVocabulary.endOfText]
            if row.count > contextLength {
                row.removeLast(row.count - contextLength)
                row[contextLength - 1] = BPEVocabulary.endOfText
            }
            return row + [Int32](repeating: 0, count: contextLength - row.count)
        }
    }

    /// `SimpleTokenizer.encode(text)`: the ids without start/end tokens or length limit.
    public func encode(_ text: String) throws -> [Int32] {
        var ids: [Int32] = []
        for word in Self.words(try clean(text)) { ids += bpe(word) }
        return ids
    }

    /// `whitespace_clean(basic_clean(text)).lower()`.
    func clean(_ text: String) throws -> String {
        var t = try TextFixer.fixText(text)
        if t.utf8.contains(0x26) {
            let entities = try HTMLUnescaper.embedded.get()
            t = entities.unescape(entities.unescape(t))
        }
        t = PythonText.strip(t)
        var collapsed = String.UnicodeScalarView()
        var inSpace = false
        for u in t.unicodeScalars {
            if PythonText.isRegexSpace(u) { if !inSpace { collapsed.append(" ") }; inSpace = true } else { collapsed.append(u); inSpace = false }
        }
        return PythonText.lower(PythonText.strip(String(collapsed)))
    }

    /// `re.findall(pat, text)` with CLIP's pattern (IGNORECASE; the text is lower-case already, but
    /// U+017F 'ſ' still matches the literal 's').
    static func words(_ text: String) -> [[Unicode.Scalar]] {
        let u = Array(text.unicodeScalars)
        var out: [[Unicode.Scalar]] = []
        var i = 0
        func literal(_ lit: String) -> Int? {
            var j = i
            for c in lit.unicodeScalars {
                guard j < u.count, u[j] == c || (c == "s" && u[j] == "\u{17F}") else { return nil }
                j += 1
            }
            return j
        }
        while i < u.count {
            var end: Int? = nil
            if u[i] == "<" { end = literal("<|startoftext|>") ?? literal("<|endoftext|>") }
            if end == nil, u[i] == "'" {
                for c in ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"] { if let e = literal(c) { end = e; break } }
            }
            if end == nil {
                let cls = PythonText.classify(u[i])
                var j = i + 1
                switch cls {
                case .none: i += 1; continue
                case .number: break
                case .letter, .other: while j < u.count, PythonText.classify(u[j]) == cls { j += 1 }
                }
                end = j
            }
            out.append(Array(u[i ..< end!]))
            i = end!
        }
        return out
    }

    /// Empties the word cache, keeping its table. The fuzz target calls it after each input: a run
    /// then frees what it allocated, and libFuzzer's leak check (which re-runs every input that
    /// allocates more than it frees, a fifth of the target's time while the cache grew) stays for
    /// real leaks.
    func emptyCache() { cache.withLock { $0.removeAll(keepingCapacity: true) } }

    /// `SimpleTokenizer.bpe` for one word, mapped through the encoder (cached per word).
    func bpe(_ word: [Unicode.Scalar]) -> [Int32] {
        // SimpleTokenizer's cache holds the two special tokens spelled exactly so (not 'ſ' for 's').
        if word.elementsEqual("<|startoftext|>".unicodeScalars) { return [BPEVocabulary.startOfText] }
        if word.elementsEqual("<|endoftext|>".unicodeScalars) { return [BPEVocabulary.endOfText] }
        let bytes = Array(String(String.UnicodeScalarView(word)).utf8)
        if let hit = cache.withLock({ $0[bytes] }) { return hit }
        var symbols = bytes.map { vocabulary.byteID[Int($0)] }
        symbols[symbols.count - 1] = vocabulary.byteEndID[Int(bytes[bytes.count - 1])]  // the word-final '</w>' form
        while symbols.count > 1 {
            var best: (rank: Int32, merged: Int32)? = nil
            var first: Int32 = 0, second: Int32 = 0
            for k in 0 ..< symbols.count - 1 {
                if let m = vocabulary.merge(symbols[k], symbols[k + 1]), best == nil || m.rank < best!.rank {
                    best = m; first = symbols[k]; second = symbols[k + 1]
                }
            }
            guard let merge = best else { break }
            var next: [Int32] = []
            next.reserveCapacity(symbols.count)
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count, symbols[k] == first, symbols[k + 1] == second { next.append(merge.merged); k += 2 } else { next.append(symbols[k]); k += 1 }
            }
            symbols = next
        }
        cache.withLock { c in
            if c.count >= Self.cacheLimit { c.removeAll(keepingCapacity: true) }
            c[bytes] = symbols
        }
        return symbols
    }
}
