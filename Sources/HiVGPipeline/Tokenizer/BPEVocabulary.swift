/// CLIP's byte-level BPE vocabulary as `SimpleTokenizer.__init__` builds it from
/// bpe_simple_vocab_16e6.txt.gz: 256 byte symbols, the same with '</w>', one token per merge of
/// lines 1…48,894, then `<|startoftext|>` and `<|endoftext|>` (49,408 ids).
///
/// Tokens are held as the UTF-8 of their byte-to-unicode spelling (the file's own text), in one
/// arena with an open-addressing index, and merges as a pair-of-ids table: loading builds no
/// Swift strings or dictionaries, which keeps `hivgkit tokenize` a few milliseconds.
public struct BPEVocabulary: Sendable {
    /// Merge lines CLIP reads: `merges[1:49152-256-2+1]`.
    public static let mergeCount = 49152 - 256 - 2
    /// Vocabulary size: 512 byte symbols + merges + 2 special tokens.
    public static let size = 512 + mergeCount + 2
    /// Id of `<|startoftext|>`.
    public static let startOfText: Int32 = 49406
    /// Id of `<|endoftext|>`.
    public static let endOfText: Int32 = 49407

    /// Id of each byte as a word-inner symbol; +256 for the word-final ('</w>') symbol.
    let byteID: [Int32]
    private let arena: [UInt8]
    private let tokenStart: [Int32]  // token i spans arena[tokenStart[i] ..< tokenStart[i + 1]]
    private let pairs: PairTable

    /// Parses the inflated merges text (the first line is a version comment, as in CLIP).
    init(text: [UInt8], source: String) throws {
        // bytes_to_unicode: printable Latin-1 bytes keep their code point, the others take 256 + n.
        var printable = Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255)
        var codePoint = printable
        for b in 0 ..< 256 where !printable.contains(b) { printable.append(b); codePoint.append(256 + codePoint.count - 188) }
        var byteID = [Int32](repeating: 0, count: 256)
        var arena: [UInt8] = []
        arena.reserveCapacity(text.count)
        var starts: [Int32] = []
        starts.reserveCapacity(Self.size + 1)
        for (i, b) in printable.enumerated() {
            byteID[b] = Int32(i)
            starts.append(Int32(arena.count))
            arena += Array(String(Unicode.Scalar(UInt32(codePoint[i]))!).utf8)
        }
        for i in 0 ..< 256 {
            starts.append(Int32(arena.count))
            arena += arena[Int(starts[i]) ..< Int(starts[i + 1])] + Array("</w>".utf8)
        }
        // Merge lines: "left right"; the token is the two halves joined.
        var halves: [(Int, Int, Int)] = []  // (left start, split, end) into arena, per merge
        halves.reserveCapacity(Self.mergeCount)
        var p = 0
        while p < text.count, text[p] != 0x0A { p += 1 }
        for line in 1 ... Self.mergeCount {
            p += 1
            let lineStart = p
            var space = -1
            while p < text.count, text[p] != 0x0A {
                if text[p] == 0x20 { guard space < 0 else { throw Self.bad(source, lineStart, "line \(line): more than two symbols") }; space = p }
                p += 1
            }
            guard p < text.count || line == Self.mergeCount, space > lineStart, space < p - 1 else {
                throw Self.bad(source, lineStart, p >= text.count ? "only \(line - 1) merge lines, CLIP needs \(Self.mergeCount)"
                                                                 : "line \(line): expected two symbols separated by one space")
            }
            let start = arena.count
            arena += text[lineStart ..< space]
            arena += text[(space + 1) ..< p]
            halves.append((start, start + space - lineStart, arena.count))
            starts.append(Int32(start))
        }
        for special in ["<|startoftext|>", "<|endoftext|>"] { starts.append(Int32(arena.count)); arena += Array(special.utf8) }
        starts.append(Int32(arena.count))

        // encoder = dict(zip(vocab, range)): a repeated spelling maps to its last id.
        var index = TokenIndex(capacity: Self.size)
        for id in 0 ..< Self.size { arena.withUnsafeBufferPointer { index.insert($0, Int(starts[id]), Int(starts[id + 1]), Int32(id)) } }
        // bpe_ranks = dict(zip(merges, range)): a repeated pair keeps its last rank.
        var pairs = PairTable(capacity: Self.mergeCount)
        try arena.withUnsafeBufferPointer { a in
            for (rank, h) in halves.enumerated() {
                guard let left = index.find(a, h.0, h.1), let right = index.find(a, h.1, h.2) else {
                    throw Self.bad(source, rank + 1, "line \(rank + 1): a half is not an earlier token")
                }
                let merged = index.find(a, h.0, h.2)!
                pairs.insert(left: left, right: right, rank: Int32(rank), merged: merged)
            }
        }
        self.byteID = byteID
        self.arena = arena
        self.tokenStart = starts
        self.pairs = pairs
    }

    private static func bad(_ source: String, _ offset: Int, _ detail: String) -> TokenizerError {
        .badVocabulary(source: source + " (inflated)", offset: offset, detail: detail)
    }

    /// Rank and resulting id of merging `left` then `right`, nil when the pair is no merge.
    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? { pairs.find(left: left, right: right) }

    /// The token's text as CLIP spells it (bytes mapped by bytes_to_unicode, '</w>' on word ends).
    public func token(_ id: Int) -> String {
        precondition(id >= 0 && id < Self.size, "token id out of range")
        return String(decoding: arena[Int(tokenStart[id]) ..< Int(tokenStart[id + 1])], as: UTF8.self)
    }

    /// CLIP's `encoder` (token text → id): the vocab.json of a Hugging Face CLIPTokenizer.
    public var encoder: [String: Int] {
        var map: [String: Int] = [:]
        map.reserveCapacity(Self.size)
        for id in 0 ..< Self.size { map[token(id)] = id }  // later ids win, as in dict(zip(vocab, range))
        return map
    }

    /// The merges in rank order as (left, right) token texts: merges.txt of a Hugging Face tokenizer.
    public var merges: [(String, String)] {
        (0 ..< Self.mergeCount).map { m in
            let id = 512 + m
            let whole = arena[Int(tokenStart[id]) ..< Int(tokenStart[id + 1])]
            let split = pairs.leftLength(ofRank: Int32(m), vocabulary: self)
            return (String(decoding: whole.prefix(split), as: UTF8.self), String(decoding: whole.dropFirst(split), as: UTF8.self))
        }
    }

    /// UTF-8 length of token `id` (the left half's length for `merges`).
    func byteLength(_ id: Int32) -> Int { Int(tokenStart[Int(id) + 1] - tokenStart[Int(id)]) }
}

/// Open-addressing index from a token's UTF-8 spelling to its id (FNV-1a, linear probing).
private struct TokenIndex {
    var slots: [Int32]
    var keys: [(Int, Int)]  // arena range per id
    let mask: Int

    init(capacity: Int) {
        var n = 1
        while n < capacity * 2 { n <<= 1 }
        slots = [Int32](repeating: -1, count: n)
        keys = [(Int, Int)](repeating: (0, 0), count: capacity)
        mask = n - 1
    }

    static func hash(_ a: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in s ..< e { h = (h ^ UInt64(a[i])) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ r: (Int, Int), _ s: Int, _ e: Int) -> Bool {
        guard r.1 - r.0 == e - s else { return false }
        for k in 0 ..< (e - s) where a[r.0 + k] != a[s + k] { return false }
        return true
    }

    mutating func insert(_ a: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int, _ id: Int32) {
        keys[Int(id)] = (s, e)
        var i = Self.hash(a, s, e) & mask
        while slots[i] >= 0 {
            if Self.equal(a, keys[Int(slots[i])], s, e) { slots[i] = id; return }
            i = (i + 1) & mask
        }
        slots[i] = id
    }

    func find(_ a: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Int32? {
        var i = Self.hash(a, s, e) & mask
        while slots[i] >= 0 {
            if Self.equal(a, keys[Int(slots[i])], s, e) { return slots[i] }
            i = (i + 1) & mask
        }
        return nil
    }
}

/// Open-addressing table (left id, right id) → (rank, merged id), plus each rank's left id.
private struct PairTable: Sendable {
    var keys: [UInt64]
    var values: [UInt64]
    var leftOfRank: [Int32]
    let mask: Int

    init(capacity: Int) {
        var n = 1
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt64](repeating: .max, count: n)
        values = [UInt64](repeating: 0, count: n)
        leftOfRank = [Int32](repeating: 0, count: capacity)
        mask = n - 1
    }

    @inline(__always)
    static func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) }

    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        leftOfRank[Int(rank)] = left
        let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
        var i = Self.slot(key) & mask
        while keys[i] != .max, keys[i] != key { i = (i + 1) & mask }
        keys[i] = key
        values[i] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(merged))
    }

    @inline(__always)
    func find(left: Int32, right: Int32) -> (rank: Int32, merged: Int32)? {
        let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
        var i = Self.slot(key) & mask
        while keys[i] != .max {
            if keys[i] == key { let v = values[i]; return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v)) }
            i = (i + 1) & mask
        }
        return nil
    }

    func leftLength(ofRank rank: Int32, vocabulary: BPEVocabulary) -> Int { vocabulary.byteLength(leftOfRank[Int(rank)]) }
}
