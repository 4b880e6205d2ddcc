import Foundation

/// CLIP's byte-level BPE vocabulary as `SimpleTokenizer.__init__` builds it from
/// bpe_simple_vocab_16e6.txt.gz: 256 byte symbols, the same with '</w>', one token per merge of
/// lines 1…48,894, then `<|startoftext|>` and `<|endoftext|>` (49,408 ids).
///
/// Tokens are held as the UTF-8 of their byte-to-unicode spelling (the file's own text with each
/// merge line's space removed in place) and identified by a 64-bit polynomial hash of it, checked
/// injective over the vocabulary while loading (equal hashes are compared byte for byte). Merges are
/// a table from a pair of hashes to (rank, id). Building it reads the text once and touches each
/// table slot once, which keeps `hivgkit tokenize` a few milliseconds.
public struct BPEVocabulary: Sendable {
    /// Merge lines CLIP reads: `merges[1:49152-256-2+1]`.
    public static let mergeCount = 49152 - 256 - 2
    /// Vocabulary size: 512 byte symbols + merges + 2 special tokens.
    public static let size = 512 + mergeCount + 2
    /// Id of `<|startoftext|>`.
    public static let startOfText: Int32 = 49406
    /// Id of `<|endoftext|>`.
    public static let endOfText: Int32 = 49407

    /// Id of each byte as a word-inner symbol and as the word-final ('</w>') symbol.
    let byteID: [Int32]
    let byteEndID: [Int32]
    private let arena: [UInt8]
    private let range: [Int32]  // token i spans arena[range[2i] ..< range[2i + 1]]
    private let leftLength: [Int32]  // bytes of each merge's left half
    private let hashes: [UInt64]  // per id
    private let pairs: PairTable

    /// Parses the inflated merges text (the first line is a version comment, as in CLIP).
    /// `checkHalves` confirms that both halves of every merge are earlier tokens, which makes the
    /// hashes an exact identity for every pair a word can form; the embedded file skips it at run
    /// time because TokenizerTests runs it on the same bytes (it costs ~100,000 table probes).
    init(text: consuming [UInt8], source: String, checkHalves: Bool = true) throws {
        var arena = text
        var range = [Int32](repeating: 0, count: 2 * Self.size)
        var leftLength = [Int32](repeating: 0, count: Self.mergeCount)
        // Merge lines "left right" → "leftright", compacted to the front of the buffer.
        let used: Int = try arena.withUnsafeMutableBufferPointer { t in
            var r = 0, w = 0
            while r < t.count, t[r] != 0x0A { r += 1 }
            for line in 1 ... Self.mergeCount {
                r += 1
                let lineStart = r, start = w
                var space = -1
                while r < t.count, t[r] != 0x0A {
                    if t[r] == 0x20 {
                        guard space < 0 else { throw Self.bad(source, lineStart, "line \(line): more than two symbols") }
                        space = r
                    } else {
                        t[w] = t[r]; w += 1
                    }
                    r += 1
                }
                guard space > lineStart, space < r - 1 else {
                    throw Self.bad(source, min(lineStart, t.count), lineStart >= t.count ? "only \(line - 1) merge lines, CLIP needs \(Self.mergeCount)"
                                                                      : "line \(line): expected two symbols separated by one space")
                }
                range[2 * (512 + line - 1)] = Int32(start)
                range[2 * (512 + line - 1) + 1] = Int32(w)
                leftLength[line - 1] = Int32(space - lineStart)
            }
            return w
        }
        arena.removeSubrange(used...)
        // bytes_to_unicode: printable Latin-1 bytes keep their code point, the others take 256 + n.
        var printable = Array(33 ... 126) + Array(161 ... 172) + Array(174 ... 255)
        for b in 0 ..< 256 where !printable.contains(b) { printable.append(b) }
        for (i, b) in printable.enumerated() {
            let spelling = Array(String(Unicode.Scalar(UInt32(i < 188 ? b : 256 + i - 188))!).utf8)
            range[2 * i] = Int32(arena.count); arena += spelling; range[2 * i + 1] = Int32(arena.count)
            range[2 * (256 + i)] = Int32(arena.count); arena += spelling + Array("</w>".utf8); range[2 * (256 + i) + 1] = Int32(arena.count)
        }
        for (k, special) in ["<|startoftext|>", "<|endoftext|>"].enumerated() {
            range[2 * (Self.size - 2 + k)] = Int32(arena.count); arena += Array(special.utf8); range[2 * (Self.size - 2 + k) + 1] = Int32(arena.count)
        }

        var hashes = [UInt64](repeating: 0, count: Self.size)
        var byteID = [Int32](repeating: 0, count: 256), byteEndID = [Int32](repeating: 0, count: 256)
        var pairs = PairTable(capacity: Self.mergeCount)
        try arena.withUnsafeBufferPointer { a in
            func hash(_ s: Int, _ e: Int) -> UInt64 {
                var h: UInt64 = 0
                for i in s ..< e { h = h &* 0x100_0000_01B3 &+ UInt64(a[i]) &+ 1 }
                return h
            }
            // encoder = dict(zip(vocab, range)): a repeated spelling maps to its last id.
            var index = HashIndex(capacity: Self.size)
            var later: [Int32: Int32] = [:]  // id → the later id of the same spelling
            for id in 0 ..< Self.size {
                let s = Int(range[2 * id]), e = Int(range[2 * id + 1])
                hashes[id] = hash(s, e)
                if let earlier = index.insert(hashes[id], Int32(id), hashes: hashes) {
                    let o = Int(range[2 * Int(earlier)]), oe = Int(range[2 * Int(earlier) + 1])
                    guard oe - o == e - s, memcmp(a.baseAddress! + o, a.baseAddress! + s, e - s) == 0 else {
                        throw Self.bad(source, s, "tokens \(earlier) and \(id) have the same 64-bit hash")
                    }
                    later[earlier] = Int32(id)
                }
            }
            func latest(_ id: Int32) -> Int32 {
                var id = id
                while let next = later[id] { id = next }
                return id
            }
            for b in 0 ..< 256 {
                let i = printable.firstIndex(of: b)!
                byteID[b] = latest(Int32(i))
                byteEndID[b] = latest(Int32(256 + i))
            }
            // bpe_ranks = dict(zip(merges, range)): a repeated pair keeps its last rank.
            for rank in 0 ..< Self.mergeCount {
                let s = Int(range[2 * (512 + rank)]), e = Int(range[2 * (512 + rank) + 1]), split = s + Int(leftLength[rank])
                let left = hash(s, split), right = hash(split, e)
                if checkHalves {
                    guard index.find(left, hashes: hashes) != nil, index.find(right, hashes: hashes) != nil else {
                        throw Self.bad(source, rank + 1, "line \(rank + 1): a half is not an earlier token")
                    }
                }
                pairs.insert(left: left, right: right, rank: Int32(rank), merged: latest(Int32(512 + rank)))
            }
        }
        self.byteID = byteID
        self.byteEndID = byteEndID
        self.arena = arena
        self.range = range
        self.leftLength = leftLength
        self.hashes = hashes
        self.pairs = pairs
    }

    private static func bad(_ source: String, _ offset: Int, _ detail: String) -> TokenizerError {
        .badVocabulary(source: source + " (inflated)", offset: offset, detail: detail)
    }

    /// Rank and resulting id of merging `left` then `right`, nil when the pair is no merge.
    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        pairs.find(left: hashes[Int(left)], right: hashes[Int(right)])
    }

    /// The token's text as CLIP spells it (bytes mapped by bytes_to_unicode, '</w>' on word ends).
    public func token(_ id: Int) -> String {
        precondition(id >= 0 && id < Self.size, "token id out of range")
        return String(decoding: arena[Int(range[2 * id]) ..< Int(range[2 * id + 1])], as: UTF8.self)
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
            let whole = arena[Int(range[2 * id]) ..< Int(range[2 * id + 1])]
            let split = Int(leftLength[m])
            return (String(decoding: whole.prefix(split), as: UTF8.self), String(decoding: whole.dropFirst(split), as: UTF8.self))
        }
    }
}

/// Open-addressing set of token hashes (linear probing). A slot is 8 bytes, a 32-bit fragment of the
/// hash and the id, so the 49,408 tokens fit in 512 KB; a fragment match is confirmed on `hashes`.
private struct HashIndex {
    var slots: [UInt64]
    let mask: Int

    init(capacity: Int) {
        var n = 1
        while n < capacity + capacity / 4 { n <<= 1 }
        slots = [UInt64](repeating: .max, count: n)
        mask = n - 1
    }

    @inline(__always)
    static func mix(_ h: UInt64) -> UInt64 { (h ^ (h >> 31)) &* 0x9E37_79B9_7F4A_7C15 }

    /// Inserts or replaces; returns the id it replaced.
    mutating func insert(_ h: UInt64, _ id: Int32, hashes: [UInt64]) -> Int32? {
        let m = Self.mix(h), fragment = m >> 32
        var i = Int(truncatingIfNeeded: m >> 8) & mask
        while slots[i] != .max {
            let old = Int32(truncatingIfNeeded: slots[i] & 0xFFFF_FFFF)
            if slots[i] >> 32 == fragment, hashes[Int(old)] == h { slots[i] = fragment << 32 | UInt64(UInt32(id)); return old }
            i = (i + 1) & mask
        }
        slots[i] = fragment << 32 | UInt64(UInt32(id))
        return nil
    }

    func find(_ h: UInt64, hashes: [UInt64]) -> Int32? {
        let m = Self.mix(h), fragment = m >> 32
        var i = Int(truncatingIfNeeded: m >> 8) & mask
        while slots[i] != .max {
            let id = Int32(truncatingIfNeeded: slots[i] & 0xFFFF_FFFF)
            if slots[i] >> 32 == fragment, hashes[Int(id)] == h { return id }
            i = (i + 1) & mask
        }
        return nil
    }
}

/// Open-addressing table (left hash, right hash) → (rank, merged id). A slot is 8 bytes: a 32-bit
/// fragment of the pair's mixed hash, the rank and the merged id (16 bits each: 48,894 ranks,
/// 49,408 ids); a fragment match is confirmed against the rank's own pair (`lefts`/`rights`, written
/// in rank order), so the table is exact while the probed part stays 512 KB.
private struct PairTable: Sendable {
    var slots: [UInt64]
    var lefts: [UInt64]
    var rights: [UInt64]
    let mask: Int
    static let empty = UInt64.max  // rank field 0xFFFF: no rank is that large

    init(capacity: Int) {
        precondition(capacity < 0xFFFF && BPEVocabulary.size <= 0x1_0000, "ranks and ids must fit 16 bits")
        var n = 1
        while n < capacity + capacity / 4 { n <<= 1 }
        slots = [UInt64](repeating: Self.empty, count: n)
        lefts = [UInt64](repeating: 0, count: capacity)
        rights = [UInt64](repeating: 0, count: capacity)
        mask = n - 1
    }

    @inline(__always)
    static func mix(_ l: UInt64, _ r: UInt64) -> UInt64 {
        let h = (l &* 0x9E37_79B9_7F4A_7C15) ^ (r &* 0xC2B2_AE3D_27D4_EB4F)
        return h ^ (h >> 29)
    }

    mutating func insert(left: UInt64, right: UInt64, rank: Int32, merged: Int32) {
        lefts[Int(rank)] = left; rights[Int(rank)] = right
        let m = Self.mix(left, right), fragment = m >> 32
        var i = Int(truncatingIfNeeded: m >> 8) & mask
        while slots[i] != Self.empty {
            let r = Int((slots[i] >> 16) & 0xFFFF)
            if slots[i] >> 32 == fragment, lefts[r] == left, rights[r] == right { break }  // a repeated pair: the later rank wins
            i = (i + 1) & mask
        }
        slots[i] = fragment << 32 | UInt64(UInt32(rank)) << 16 | UInt64(UInt32(merged))
    }

    @inline(__always)
    func find(left: UInt64, right: UInt64) -> (rank: Int32, merged: Int32)? {
        let m = Self.mix(left, right), fragment = m >> 32
        var i = Int(truncatingIfNeeded: m >> 8) & mask
        while slots[i] != Self.empty {
            let r = Int((slots[i] >> 16) & 0xFFFF)
            if slots[i] >> 32 == fragment, lefts[r] == left, rights[r] == right {
                return (Int32(r), Int32(truncatingIfNeeded: slots[i] & 0xFFFF))
            }
            i = (i + 1) & mask
        }
        return nil
    }
}
