import HiVGCore

/// A gzip (RFC 1952) member inflated in Swift (RFC 1951), so the pipeline needs no zlib: CLIP's merges
/// file is the only compressed input. `stopAfterLines` lets the tokenizer stop once it holds the
/// 48,895 lines it uses (a sixth of the file), which is most of its load time.
enum Gunzip {
    /// Inflates `gz`. With `stopAfterLines`, returns once the output holds that many '\n' (possibly
    /// more bytes after them) and skips the trailer; otherwise inflates to the end and checks the
    /// trailer's CRC-32 and length. Output is capped at `limit` bytes.
    static func inflate(_ gz: UnsafeRawBufferPointer, source: String, stopAfterLines: Int? = nil,
                        limit: Int = 64 << 20) throws -> [UInt8] {
        func fail(_ offset: Int, _ detail: String) -> TokenizerError {
            TokenizerError.badVocabulary(source: source, offset: offset, detail: detail)
        }
        guard gz.count >= 18, gz[0] == 0x1F, gz[1] == 0x8B else { throw fail(0, "not a gzip file") }
        guard gz[2] == 8 else { throw fail(2, "compression method \(gz[2]), expected 8 (deflate)") }
        let flags = gz[3]
        guard flags & 0xE0 == 0 else { throw fail(3, "reserved gzip flag bits set") }
        var pos = 10
        if flags & 4 != 0 {  // FEXTRA
            guard pos + 2 <= gz.count else { throw fail(pos, "truncated extra field") }
            pos += 2 + (Int(gz[pos]) | Int(gz[pos + 1]) << 8)
        }
        for bit: UInt8 in [8, 16] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            while pos < gz.count, gz[pos] != 0 { pos += 1 }
            pos += 1
        }
        if flags & 2 != 0 { pos += 2 }  // FHCRC
        guard pos < gz.count else { throw fail(gz.count, "truncated gzip header") }

        let inflater = Inflater(input: gz, position: pos, limit: limit, fail: fail)
        var lines = 0, counted = 0
        while try inflater.block() {
            if let want = stopAfterLines {
                lines += inflater.newlines(from: counted)
                counted = inflater.count
                if lines >= want { return inflater.output }
            }
        }
        let end = inflater.bytePosition
        guard end + 8 <= gz.count else { throw fail(end, "truncated gzip trailer") }
        let word = { (at: Int) in UInt32(gz[at]) | UInt32(gz[at + 1]) << 8 | UInt32(gz[at + 2]) << 16 | UInt32(gz[at + 3]) << 24 }
        let output = inflater.output
        let crc = output.withUnsafeBytes { Checksum.crc32($0) }
        guard crc == word(end) else { throw fail(end, "CRC-32 mismatch: data is corrupt") }
        guard UInt32(truncatingIfNeeded: output.count) == word(end + 4) else { throw fail(end + 4, "length mismatch") }
        return output
    }
}

/// The DEFLATE block decoder: a 64-bit bit buffer and full-width canonical Huffman tables (one
/// lookup per symbol; at most 2^15 entries, rebuilt per dynamic block). A class over raw buffers:
/// the literal/match loop keeps its state in locals, which is most of the speed of a load.
private final class Inflater {
    let input: UnsafePointer<UInt8>
    let inputCount: Int
    var position: Int
    let limit: Int
    let fail: (Int, String) -> TokenizerError
    private var out: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    var count = 0
    var bits: UInt64 = 0
    var bitCount = 0
    var finished = false

    init(input: UnsafeRawBufferPointer, position: Int, limit: Int, fail: @escaping (Int, String) -> TokenizerError) {
        self.input = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        inputCount = input.count
        self.position = position; self.limit = limit; self.fail = fail
        capacity = max(1 << 16, min(limit, 4 * input.count)) + 258
        out = .allocate(capacity: capacity)
    }

    deinit { out.deallocate() }

    var output: [UInt8] { Array(UnsafeBufferPointer(start: out, count: count)) }

    /// Line feeds in the output from `start` on.
    func newlines(from start: Int) -> Int {
        var n = 0
        for i in start ..< count where out[i] == 0x0A { n += 1 }
        return n
    }

    /// The byte after the last one consumed (the trailer's offset once the final block is done).
    var bytePosition: Int { position - bitCount / 8 }

    func take(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        while bitCount < n {
            guard position < inputCount else { throw fail(position, "deflate data ends early") }
            bits |= UInt64(input[position]) << UInt64(bitCount)
            position += 1; bitCount += 8
        }
        let v = Int(bits & ((1 << UInt64(n)) - 1))
        bits >>= UInt64(n); bitCount -= n
        return v
    }

    /// Room for one more match (258 bytes) within `limit`.
    func reserve() throws {
        if count + 258 <= capacity { return }
        guard count < limit else { throw fail(position, "inflates to more than \(limit) bytes") }
        let bigger = min(capacity * 2, limit + 258)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: bigger)
        grown.update(from: out, count: count)
        out.deallocate()
        out = grown; capacity = bigger
    }

    /// Decodes one block; false once the final block has been decoded.
    func block() throws -> Bool {
        if finished { return false }
        finished = try take(1) == 1
        switch try take(2) {
        case 0:
            bits >>= UInt64(bitCount % 8); bitCount -= bitCount % 8
            let len = try take(16), nlen = try take(16)
            guard len == ~nlen & 0xFFFF else { throw fail(bytePosition, "stored block length check fails") }
            for _ in 0 ..< len { try reserve(); out[count] = UInt8(try take(8)); count += 1 }
        case 1:
            try codes(Inflater.fixedLiterals, Inflater.fixedDistances)
        case 2:
            let (lit, dist) = try dynamicTables()
            try codes(lit, dist)
        default:
            throw fail(bytePosition, "invalid deflate block type 3")
        }
        if count > limit { throw fail(position, "inflates to more than \(limit) bytes") }
        return true
    }

    func decode(_ table: Huffman) throws -> Int {
        while bitCount < table.maxLength, position < inputCount {
            bits |= UInt64(input[position]) << UInt64(bitCount); position += 1; bitCount += 8
        }
        let entry = table.entries[Int(bits & UInt64(table.mask))]
        let length = Int(entry & 0xF)
        // Near the end of the input a short final code may not need all maxLength bits.
        guard length > 0, length <= bitCount else { throw fail(bytePosition, "invalid Huffman code") }
        bits >>= UInt64(length); bitCount -= length
        return Int(entry >> 4)
    }

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let fixedLiterals = Huffman(lengths: [UInt8](repeating: 8, count: 144) + [UInt8](repeating: 9, count: 112)
        + [UInt8](repeating: 7, count: 24) + [UInt8](repeating: 8, count: 8))!
    static let fixedDistances = Huffman(lengths: [UInt8](repeating: 5, count: 30))!

    /// The literal/match loop of one block. Bit state lives in locals (written back on every exit);
    /// one refill of up to 56 bits per symbol covers a code, its extra bits, a distance code and its
    /// extra bits (at most 15 + 5 + 15 + 13).
    func codes(_ lit: Huffman, _ dist: Huffman) throws {
        var bits = self.bits, bitCount = self.bitCount, position = self.position
        var count = self.count, out = self.out, capacity = self.capacity
        defer { self.bits = bits; self.bitCount = bitCount; self.position = position; self.count = count }
        let input = self.input, inputCount = self.inputCount
        let litMask = UInt64(lit.mask), distMask = UInt64(dist.mask)
        func failure(_ detail: String) -> TokenizerError { fail(position - bitCount / 8, detail) }
        try lit.entries.withUnsafeBufferPointer { lt in
            try dist.entries.withUnsafeBufferPointer { dt in
                while true {
                    if count + 258 > capacity {
                        self.count = count
                        try reserve()
                        out = self.out; capacity = self.capacity
                    }
                    if position + 8 <= inputCount {
                        bits |= UnsafeRawPointer(input + position).loadUnaligned(as: UInt64.self) << UInt64(bitCount)
                        position += (63 - bitCount) >> 3
                        bitCount |= 56
                    } else {
                        while bitCount <= 56, position < inputCount { bits |= UInt64(input[position]) << UInt64(bitCount); position += 1; bitCount += 8 }
                    }
                    let entry = lt[Int(bits & litMask)]
                    let length = Int(entry & 0xF)
                    guard length > 0, length <= bitCount else { throw failure("invalid Huffman code") }
                    bits >>= UInt64(length); bitCount -= length
                    let sym = Int(entry >> 4)
                    if sym < 256 { out[count] = UInt8(truncatingIfNeeded: sym); count += 1; continue }
                    if sym == 256 { return }
                    let li = sym - 257
                    guard li < 29 else { throw failure("invalid length symbol \(sym)") }
                    let lx = Inflater.lengthExtra[li]
                    guard lx <= bitCount else { throw failure("deflate data ends early") }
                    let matchLength = Inflater.lengthBase[li] + Int(bits & ((1 << UInt64(lx)) - 1))
                    bits >>= UInt64(lx); bitCount -= lx
                    let dEntry = dt[Int(bits & distMask)]
                    let dLength = Int(dEntry & 0xF)
                    guard dLength > 0, dLength <= bitCount else { throw failure("invalid Huffman code") }
                    bits >>= UInt64(dLength); bitCount -= dLength
                    let di = Int(dEntry >> 4)
                    guard di < 30 else { throw failure("invalid distance symbol \(di)") }
                    let dx = Inflater.distanceExtra[di]
                    guard dx <= bitCount else { throw failure("deflate data ends early") }
                    let distance = Inflater.distanceBase[di] + Int(bits & ((1 << UInt64(dx)) - 1))
                    bits >>= UInt64(dx); bitCount -= dx
                    guard distance <= count else { throw failure("distance \(distance) reaches before the start") }
                    var from = count - distance
                    for _ in 0 ..< matchLength { out[count] = out[from]; count += 1; from += 1 }  // may overlap its own output
                }
            }
        }
    }

    func dynamicTables() throws -> (Huffman, Huffman) {
        let hlit = try take(5) + 257, hdist = try take(5) + 1, hclen = try take(4) + 4
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var codeLengths = [UInt8](repeating: 0, count: 19)
        for i in 0 ..< hclen { codeLengths[order[i]] = UInt8(try take(3)) }
        guard let clTable = Huffman(lengths: codeLengths) else { throw fail(bytePosition, "invalid code-length code") }
        var lengths: [UInt8] = []
        while lengths.count < hlit + hdist {
            let sym = try decode(clTable)
            switch sym {
            case 0 ... 15: lengths.append(UInt8(sym))
            case 16:
                guard let last = lengths.last else { throw fail(bytePosition, "repeat with no previous length") }
                lengths += [UInt8](repeating: last, count: 3 + (try take(2)))
            case 17: lengths += [UInt8](repeating: 0, count: 3 + (try take(3)))
            default: lengths += [UInt8](repeating: 0, count: 11 + (try take(7)))
            }
        }
        guard lengths.count == hlit + hdist else { throw fail(bytePosition, "code lengths overrun") }
        guard let lit = Huffman(lengths: Array(lengths[..<hlit])), let dist = Huffman(lengths: Array(lengths[hlit...]))
        else { throw fail(bytePosition, "invalid Huffman code lengths") }
        return (lit, dist)
    }
}

/// A canonical Huffman code as one table indexed by the next `maxLength` input bits (LSB first):
/// entry = symbol << 4 | code length, 0 for bit patterns no code starts with.
private struct Huffman {
    let entries: [UInt32]
    let maxLength: Int
    let mask: Int

    /// nil for an over-subscribed code (incomplete codes are allowed, as zlib allows them).
    init?(lengths: [UInt8]) {
        var count = [Int](repeating: 0, count: 16)
        for l in lengths { count[Int(l)] += 1 }
        count[0] = 0
        var left = 1
        for len in 1 ... 15 { left = left * 2 - count[len]; if left < 0 { return nil } }
        maxLength = max(1, lengths.map(Int.init).max() ?? 1)
        mask = (1 << maxLength) - 1
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1 ... 15 { code = (code + count[len - 1]) << 1; next[len] = code }
        var table = [UInt32](repeating: 0, count: 1 << maxLength)
        for (symbol, l) in lengths.enumerated() where l > 0 {
            let len = Int(l)
            var c = next[len]; next[len] += 1
            var reversed = 0
            for _ in 0 ..< len { reversed = reversed << 1 | c & 1; c >>= 1 }
            var i = reversed
            while i < table.count { table[i] = UInt32(symbol) << 4 | UInt32(len); i += 1 << len }
        }
        entries = table
    }
}
