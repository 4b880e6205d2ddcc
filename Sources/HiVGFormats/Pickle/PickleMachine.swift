import HiVGCore

/// Bounds that keep a hostile pickle from exhausting memory, stack or time.
public struct PickleLimits: Sendable {
    public var maxDepth = 1000
    public var maxMemo = 1_000_000
    public var maxBytes = 256 << 20
    public var maxOps = 100_000_000
    /// Entries on the stack at once (a state dict pickle needs a few thousand).
    public var maxStack = 1_000_000
    /// Containers one run may create.
    public var maxContainers = 10_000_000
    /// Bytes of strings, keys and copies one run may produce: max(this, 16 × the pickle's size).
    public var minWorkBytes = 256 << 20
    public init() {}
}

/// Gives meaning to the few things a pickle may ask for: calls of allow-listed globals, persistent
/// ids (torch storages) and globals that are plain values (dtypes).
public protocol PickleInterpreter: AnyObject {
    func call(module: String, name: String, args: [PickleValue], offset: Int) throws -> PickleValue
    func persistentLoad(_ pid: PickleValue, offset: Int) throws -> PickleValue
    func global(module: String, name: String) -> PickleValue
}

/// A stack machine over pickle opcodes that never imports or runs anything.
public final class PickleMachine {
    private let data: UnsafeRawBufferPointer
    private let file: String
    private let entry: String?
    private let limits: PickleLimits
    private unowned let interpreter: any PickleInterpreter
    /// Where the next opcode starts; after `run`, just past STOP.
    public private(set) var position: Int

    public init(data: UnsafeRawBufferPointer, start: Int = 0, file: String, entry: String?, limits: PickleLimits = PickleLimits(),
                interpreter: any PickleInterpreter) {
        self.data = data
        self.position = start
        self.file = file
        self.entry = entry
        self.limits = limits
        self.interpreter = interpreter
    }

    /// Runs to STOP and returns the one value left on the stack.
    public func run() throws -> PickleValue {
        // The state lives in a local struct: its accesses are checked for exclusivity at compile
        // time, where a class's stored properties would pay a runtime check on every opcode.
        var vm = PickleRun(data: data, position: position, file: file, entry: entry, limits: limits, interpreter: interpreter)
        defer { position = vm.position }
        return try vm.run()
    }
}

/// One run of the machine: the stack, the memo and the budgets.
struct PickleRun {
    struct Entry {
        var value: PickleValue
        var depth: Int
    }

    let data: UnsafeRawBufferPointer
    let file: String
    let entry: String?
    let limits: PickleLimits
    let interpreter: any PickleInterpreter
    var position: Int
    var opStart = 0
    var stack: [Entry] = []
    var marks: [Int] = []
    /// Memo keys are almost always 0, 1, 2, …: those live in an array, any others in a dictionary.
    var memoDense: [Entry?] = []
    var memoSparse: [Int: Entry] = [:]
    var memoCount = 0
    /// Containers this run made (or met), for the depth bookkeeping and the tear-down.
    var containers: [PyContainer] = []
    /// Marks the containers' bookkeeping fields as this run's (see `PyContainer.vmRun`).
    let token = UInt64.random(in: 1 ... UInt64.max)
    /// Bytes produced so far (strings, bytes, dict keys, copies made by calls), against `workLimit`.
    var work = 0
    let workLimit: Int

    init(data: UnsafeRawBufferPointer, position: Int, file: String, entry: String?, limits: PickleLimits, interpreter: any PickleInterpreter) {
        self.data = data
        self.position = position
        self.file = file
        self.entry = entry
        self.limits = limits
        self.interpreter = interpreter
        self.workLimit = max(limits.minWorkBytes, 16 &* data.count)
        stack.reserveCapacity(256)
        memoDense.reserveCapacity(max(0, min((data.count - position) / 48, 1 << 13)))  // a state dict pickle memoizes every ~40 bytes
    }

    func fail(_ kind: FormatError.Kind, _ message: String, global: String? = nil) -> FormatError {
        FormatError(kind, file: file, entry: entry, offset: opStart, global: global, message)
    }

    // MARK: reading

    func need(_ n: Int) throws {
        if n < 0 || n > data.count - position { throw fail(.truncated, "pickle ends inside an opcode argument") }
    }

    mutating func readInt<T: FixedWidthInteger>(_ t: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        let v = T(littleEndian: data.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return v
    }

    /// The next `n` bytes, as a range of `data` (nothing copied).
    mutating func readBytes(_ n: Int) throws -> Range<Int> {
        if n > limits.maxBytes { throw fail(.pickleLimit, "a string of \(n) bytes exceeds the limit of \(limits.maxBytes)") }
        try need(n)
        defer { position += n }
        return position ..< position + n
    }

    mutating func readLine() throws -> Range<Int> {
        var end = position
        while end < data.count && data[end] != 0x0A {
            end += 1
            if end - position > limits.maxBytes { throw fail(.pickleLimit, "a text argument exceeds the limit of \(limits.maxBytes) bytes") }
        }
        if end >= data.count { throw fail(.truncated, "pickle ends inside a text argument") }
        defer { position = end + 1 }
        return position ..< end
    }

    func bytes(_ r: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: data[r]) }
    func array(_ r: Range<Int>) -> [UInt8] { Array(bytes(r)) }
    func string(_ r: Range<Int>) -> String { String(decoding: bytes(r), as: UTF8.self) }

    /// The bytes as text, nil when they are not valid UTF-8. ASCII (every name in a state dict) is
    /// checked eight bytes at a time and copied without the general decoder.
    func utf8String(_ r: Range<Int>) -> String? {
        let b = bytes(r).assumingMemoryBound(to: UInt8.self)
        var i = 0, high: UInt64 = 0
        while i + 8 <= b.count {
            high |= UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self)
            i += 8
        }
        while i < b.count { high |= UInt64(b[i]); i += 1 }
        if high & 0x8080_8080_8080_8080 == 0 { return String(decoding: b, as: UTF8.self) }
        return String(validating: b, as: UTF8.self)
    }

    enum Arg {
        case none
        case int(Int)
        case double(Double)
        /// Length-prefixed bytes, in place.
        case bytes(Range<Int>)
        /// A text line without its newline, in place.
        case line(Range<Int>)
        case lines(String, String)
    }

    mutating func readArgument(_ kind: PickleArgument) throws -> Arg {
        switch kind {
        case .none: return .none
        case .u1: return .int(Int(try readInt(UInt8.self)))
        case .u2: return .int(Int(try readInt(UInt16.self)))
        case .i4: return .int(Int(try readInt(Int32.self)))
        case .u4: return .int(Int(try readInt(UInt32.self)))
        case .u8:
            let v = try readInt(UInt64.self)
            return .int(v > UInt64(Int.max) ? Int.max : Int(v))
        case .float8: return .double(Double(bitPattern: UInt64(bigEndian: UInt64(littleEndian: try readInt(UInt64.self)))))
        case .line: return .line(try readLine())
        case .twoLines:
            let m = try readLine(), n = try readLine()
            return .lines(string(m), string(n))
        case .bytes1: return .bytes(try readBytes(Int(try readInt(UInt8.self))))
        case .bytes4: return .bytes(try readBytes(Int(try readInt(UInt32.self))))
        case .bytes4Signed:
            let n = Int(try readInt(Int32.self))
            if n < 0 { throw fail(.pickleMalformed, "negative byte count \(n)") }
            return .bytes(try readBytes(n))
        case .bytes8:
            let n = try readInt(UInt64.self)
            if n > UInt64(limits.maxBytes) { throw fail(.pickleLimit, "a string of \(n) bytes exceeds the limit of \(limits.maxBytes)") }
            return .bytes(try readBytes(Int(n)))
        }
    }

    // MARK: containers

    /// Makes `c` one of this run's containers (once), checking the container limit.
    mutating func register(_ c: PyContainer, depth: Int) throws {
        if c.vmRun == token { return }
        if containers.count >= limits.maxContainers { throw fail(.pickleLimit, "more than \(limits.maxContainers) containers") }
        containers.append(c)
        c.vmRun = token
        c.vmDepth = depth
        c.vmWalk = 0
    }

    func depthOfValue(_ e: Entry) -> Int {
        if let c = e.value.container, c.vmRun == token { return c.vmDepth }
        return e.depth
    }

    /// Records that `container` now holds a child of depth `childDepth`, checking the nesting limit.
    mutating func grow(_ container: PyContainer, childDepth: Int) throws {
        try register(container, depth: 0)
        let d = max(container.vmDepth, childDepth + 1)
        if d > limits.maxDepth { throw fail(.pickleLimit, "containers nest deeper than \(limits.maxDepth) levels") }
        container.vmDepth = d
    }

    mutating func grow<C: Collection<Entry>>(_ container: PyContainer, with children: C) throws {
        var d = -1
        for c in children { d = max(d, depthOfValue(c)) }
        try grow(container, childDepth: d)
    }

    // MARK: stack

    mutating func charge(_ bytes: Int) throws {
        work = work.saturatingAdd(bytes)
        if work > workLimit { throw fail(.pickleLimit, "the pickle produces more than \(workLimit) bytes of values") }
    }

    mutating func append(_ e: Entry) throws {
        if stack.count >= limits.maxStack { throw fail(.pickleLimit, "more than \(limits.maxStack) items on the stack") }
        stack.append(e)
    }

    mutating func push(_ v: PickleValue, depth: Int = 0) throws {
        if depth > limits.maxDepth { throw fail(.pickleLimit, "containers nest deeper than \(limits.maxDepth) levels") }
        switch v {
        case let .string(s): try charge(s.utf8.count)
        case let .bytes(b): try charge(b.count)
        default: break
        }
        if let c = v.container { try register(c, depth: depth) }
        try append(Entry(value: v, depth: depth))
    }

    /// The number of entries above the innermost MARK (all of them without one).
    var available: Int { stack.count - (marks.last ?? 0) }

    mutating func pop() throws -> Entry {
        if available <= 0 { throw underflow() }
        return stack.removeLast()
    }

    func top() throws -> Entry {
        if available <= 0 { throw underflow() }
        return stack[stack.count - 1]
    }

    func underflow() -> FormatError {
        marks.isEmpty ? fail(.pickleMalformed, "stack underflow") : fail(.pickleMalformed, "stack underflow below a MARK")
    }

    mutating func popMark() throws -> [Entry] {
        guard let m = marks.popLast() else { throw fail(.pickleMalformed, "no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    /// A tuple of the entries from `start` to the top, removed from the stack.
    mutating func popTuple(from start: Int) throws {
        var items: [PickleValue] = []
        items.reserveCapacity(stack.count - start)
        var d = -1
        for i in start ..< stack.count {
            items.append(stack[i].value)
            d = max(d, depthOfValue(stack[i]))
        }
        stack.removeLast(stack.count - start)
        try push(.tuple(items), depth: d + 1)
    }

    mutating func memoPut(_ key: Int, _ e: Entry) throws {
        if key >= 0 && key < memoDense.count {
            if memoDense[key] == nil {
                if memoCount >= limits.maxMemo { throw fail(.pickleLimit, "memo exceeds \(limits.maxMemo) entries") }
                memoCount += 1
            }
            memoDense[key] = e
            return
        }
        let isNew = memoSparse[key] == nil
        if isNew {
            if memoCount >= limits.maxMemo { throw fail(.pickleLimit, "memo exceeds \(limits.maxMemo) entries") }
            memoCount += 1
        }
        if key == memoDense.count && isNew {
            memoDense.append(e)
        } else {
            memoSparse[key] = e
        }
    }

    func memoGet(_ key: Int) throws -> Entry {
        if key >= 0 && key < memoDense.count, let e = memoDense[key] { return e }
        guard let e = memoSparse[key] else { throw fail(.pickleMalformed, "memo key \(key) was never stored") }
        return e
    }

    // MARK: running

}
