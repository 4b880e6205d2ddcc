import HiVGCore

extension PickleRun {
    mutating func checkDepth(_ root: PickleValue) throws {
        // Tuples have no identity to remember: a shared tuple is walked again each time. The walk is
        // bounded by a budget no honest pickle reaches (it visits each object a few times at most).
        var budget = max(4_000_000, 8 &* data.count)
        // Frame: a tuple's items or a container's children, how many were visited, and the deepest
        // child so far; its depth is that + 1.
        struct Frame { var tuple: [PickleValue]; var container: PyContainer?; var count: Int; var next = 0; var best = 0 }
        func frame(_ v: PickleValue) -> Frame {
            if case let .tuple(t) = v { return Frame(tuple: t, container: nil, count: t.count) }
            let c = v.container
            return Frame(tuple: [], container: c, count: c?.childCount ?? 0)
        }
        if let c = root.container { claim(c); c.vmWalk = -1 }
        var frames = [frame(root)]
        while !frames.isEmpty {
            let top = frames.count - 1
            let next = frames[top].next
            if next == frames[top].count {
                let f = frames.removeLast()
                let depth = f.best + (f.count == 0 ? 0 : 1)
                if depth > limits.maxDepth { throw fail(.pickleLimit, "containers nest deeper than \(limits.maxDepth) levels") }
                f.container?.vmWalk = depth + 1
                if top > 0 { frames[top - 1].best = max(frames[top - 1].best, depth) }
                continue
            }
            let child = frames[top].container.map { $0.child(next) } ?? frames[top].tuple[next]
            frames[top].next += 1
            budget -= 1
            if budget < 0 { throw fail(.pickleLimit, "the structure shares values too often to walk (exponential fan-out)") }
            if frames.count > limits.maxDepth + 1 { throw fail(.pickleLimit, "containers nest deeper than \(limits.maxDepth) levels") }
            if let c = child.container {
                claim(c)
                if c.vmWalk > 0 {
                    frames[top].best = max(frames[top].best, c.vmWalk - 1)
                    continue
                }
                if c.vmWalk < 0 { throw fail(.pickleMalformed, "a container contains itself") }
                c.vmWalk = -1
                frames.append(frame(child))
            } else if case .tuple = child {
                frames.append(frame(child))
            }
        }
    }

    /// Takes over the bookkeeping fields of a container this run did not register (their values are stale).
    func claim(_ c: PyContainer) {
        if c.vmRun != token { c.vmRun = token; c.vmDepth = 0; c.vmWalk = 0 }
    }

    // MARK: literals

    func decimal(_ s: String) throws -> PickleValue {
        let t = s.trimmingCharacters(in: " ")
        if let v = Int64(t) { return .int(v) }
        let digits = t.hasPrefix("-") ? t.dropFirst() : Substring(t)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw fail(.pickleMalformed, "bad integer text") }
        return .bigInt(t)
    }

    func quotedString(_ l: [UInt8]) throws -> String {
        guard l.count >= 2, let q = l.first, q == 0x27 || q == 0x22, l.last == q else {
            throw fail(.pickleMalformed, "STRING argument is not quoted")
        }
        var out: [UInt8] = []
        var i = 1
        while i < l.count - 1 {
            let c = l[i]
            if c == 0x5C, i + 1 < l.count - 1 {
                let e = l[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "x"):
                    guard i + 2 <= l.count - 1, let v = UInt8(String(decoding: l[i ..< i + 2], as: UTF8.self), radix: 16) else {
                        throw fail(.pickleMalformed, "bad \\x escape")
                    }
                    out.append(v)
                    i += 2
                default: out.append(e)
                }
            } else {
                out.append(c)
                i += 1
            }
        }
        return PickleMachine.text(out)
    }
}

extension PickleMachine {
    /// LONG1/LONG4: little-endian two's complement.
    static func long(_ b: [UInt8]) -> PickleValue {
        if b.isEmpty { return .int(0) }
        if b.count <= 8 {
            var v: UInt64 = 0
            for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
            if b.last! & 0x80 != 0 && b.count < 8 { v |= ~0 << (8 * UInt64(b.count)) }
            return .int(Int64(bitPattern: v))
        }
        if b.count > 64 {
            // Wider than any integer a weights file holds: kept as hex (two's complement,
            // little-endian bytes reversed) so decoding stays linear in its length.
            return .bigInt("0x" + b.reversed().map { String(format2hex: $0) }.joined())
        }
        let negative = b.last! & 0x80 != 0
        var mag = b
        if negative {  // magnitude = two's complement negation
            var carry = 1
            for i in mag.indices {
                let x = Int(~mag[i] & 0xFF) + carry
                mag[i] = UInt8(x & 0xFF)
                carry = x >> 8
            }
        }
        var digits: [UInt8] = []
        var n = Array(mag.reversed())  // big-endian
        while n.contains(where: { $0 != 0 }) {
            var rem = 0
            for i in n.indices {
                let cur = rem * 256 + Int(n[i])
                n[i] = UInt8(cur / 10)
                rem = cur % 10
            }
            digits.append(UInt8(rem))
        }
        let text = digits.isEmpty ? "0" : String(digits.reversed().map { Character(String($0)) })
        return .bigInt(negative ? "-" + text : text)
    }

    /// py2 byte strings: UTF-8 when valid, else Latin-1.
    static func text<Bytes: Collection<UInt8>>(_ b: Bytes) -> String {
        if let s = String(validating: b, as: UTF8.self) { return s }
        return String(b.map { Character(Unicode.Scalar($0)) })
    }

    /// Protocol 0 UNICODE: Latin-1 with \uXXXX and \UXXXXXXXX escapes.
    static func rawUnicodeEscape(_ l: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < l.count {
            if l[i] == 0x5C, i + 1 < l.count, l[i + 1] == UInt8(ascii: "u") || l[i + 1] == UInt8(ascii: "U") {
                let n = l[i + 1] == UInt8(ascii: "u") ? 4 : 8
                if i + 2 + n <= l.count, let v = UInt32(String(decoding: l[i + 2 ..< i + 2 + n], as: UTF8.self), radix: 16),
                   let s = Unicode.Scalar(v) {
                    scalars.append(s)
                    i += 2 + n
                    continue
                }
            }
            scalars.append(Unicode.Scalar(l[i]))
            i += 1
        }
        return String(scalars)
    }
}

extension String {
    fileprivate func trimmingCharacters(in chars: Character) -> String {
        var s = Substring(self)
        while s.first == chars { s.removeFirst() }
        while s.last == chars { s.removeLast() }
        return String(s)
    }
}

extension String {
    /// Two lower-case hex digits.
    fileprivate init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
