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
private struct PickleRun {
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

    mutating func run() throws -> PickleValue {
        var ok = false
        defer {
            // Iterative tear-down: containers the result does not reach (all of them after a failure)
            // are emptied one by one, so freeing never recurses deeply and no cycle is kept alive.
            for c in containers where !ok || c.vmWalk <= 0 { c.clear() }
            containers.removeAll()
            memoDense.removeAll()
            memoSparse.removeAll()
            stack.removeAll()
        }
        var ops = 0
        while true {
            opStart = position
            guard position < data.count else { throw fail(.truncated, "pickle ends before STOP") }
            let byte = data[position]
            position += 1
            ops += 1
            if ops > limits.maxOps { throw fail(.pickleLimit, "more than \(limits.maxOps) opcodes") }
            guard let op = PickleOp(rawValue: byte) else {
                throw fail(.pickleMalformed, "unknown opcode 0x\(String(byte, radix: 16))")
            }
            let arg = try readArgument(op.argument)
            if op == .stop { break }
            try execute(op, arg)
        }
        if !marks.isEmpty { throw fail(.pickleMalformed, "\(marks.count) MARK(s) left on the stack at STOP") }
        guard stack.count == 1 else {
            throw fail(.pickleMalformed, stack.isEmpty ? "empty stack at STOP" : "\(stack.count) items left on the stack at STOP")
        }
        let result = stack[0].value
        try checkDepth(result)
        ok = true
        return result
    }

    mutating func execute(_ op: PickleOp, _ arg: Arg) throws {
        switch (op, arg) {
        case (.proto, .int(let v)):
            if v > 5 { throw fail(.unsupported, "pickle protocol \(v) is newer than 5") }
        case (.frame, _): break
        case (.mark, _): marks.append(stack.count)
        case (.pop, _):
            if let m = marks.last, m == stack.count { marks.removeLast() } else { _ = try pop() }
        case (.popMark, _): _ = try popMark()
        case (.dup, _): try append(try top())
        case (.none, _): try push(.none)
        case (.newTrue, _): try push(.bool(true))
        case (.newFalse, _): try push(.bool(false))
        case (.binInt, .int(let v)), (.binInt1, .int(let v)), (.binInt2, .int(let v)): try push(.int(Int64(v)))
        case (.intText, .line(let l)):
            let s = string(l)
            if s == "01" { try push(.bool(true)) } else if s == "00" { try push(.bool(false)) } else { try push(try decimal(s)) }
        case (.longText, .line(let l)):
            var s = string(l)
            if s.hasSuffix("L") { s.removeLast() }
            try push(try decimal(s))
        case (.long1, .bytes(let b)), (.long4, .bytes(let b)): try push(PickleMachine.long(array(b)))
        case (.floatText, .line(let l)):
            guard let d = Double(string(l)) else { throw fail(.pickleMalformed, "bad float text") }
            try push(.float(d))
        case (.binFloat, .double(let d)): try push(.float(d))
        case (.stringText, .line(let l)): try push(.string(try quotedString(array(l))))
        case (.binString, .bytes(let b)), (.shortBinString, .bytes(let b)): try push(.string(PickleMachine.text(bytes(b))))
        case (.unicodeText, .line(let l)): try push(.string(PickleMachine.rawUnicodeEscape(array(l))))
        case (.binUnicode, .bytes(let b)), (.shortBinUnicode, .bytes(let b)), (.binUnicode8, .bytes(let b)):
            guard let text = utf8String(b) else { throw fail(.pickleMalformed, "string is not valid UTF-8") }
            try push(.string(text))
        case (.binBytes, .bytes(let b)), (.shortBinBytes, .bytes(let b)), (.binBytes8, .bytes(let b)), (.byteArray8, .bytes(let b)):
            try push(.bytes(array(b)))
        case (.emptyTuple, _): try push(.tuple([]), depth: 1)
        case (.tuple1, _), (.tuple2, _), (.tuple3, _):
            let n = Int(op.rawValue - PickleOp.tuple1.rawValue) + 1
            if available < n { throw underflow() }
            try popTuple(from: stack.count - n)
        case (.tuple, _):
            guard let m = marks.popLast() else { throw fail(.pickleMalformed, "no MARK on the stack") }
            try popTuple(from: m)
        case (.emptyList, _): try push(.list(PyList()))
        case (.list, _):
            let items = try popMark()
            let l = PyList(items.map(\.value))
            try push(.list(l))
            try grow(l, with: items)
        case (.emptyDict, _): try push(.dict(PyDict()))
        case (.dict, _):
            let items = try popMark()
            let d = PyDict()
            try fill(d, items)
            try push(.dict(d))
            try grow(d, with: items)
        case (.emptySet, _): try push(.set(PyList()))
        case (.frozenSet, _):
            let items = try popMark()
            let l = PyList(items.map(\.value))
            try push(.set(l))
            try grow(l, with: items)
        case (.append, _):
            let v = try pop()
            try append(CollectionOfOne(v), to: try top())
        case (.appends, _):
            let items = try popMark()
            try append(items, to: try top())
        case (.addItems, _):
            let items = try popMark()
            guard case let .set(s) = try top().value else { throw fail(.pickleMalformed, "ADDITEMS on a non-set") }
            s.items += items.map(\.value)
            try grow(s, with: items)
        case (.setItem, _):
            let v = try pop(), k = try pop()
            let target = try top()
            if case let .dict(d) = target.value {  // the usual case, without a two-item array
                try chargeKey(k.value)
                d.set(k.value, v.value)
                try grow(d, childDepth: max(depthOfValue(k), depthOfValue(v)))
            } else {
                try setItems([k, v], on: target)
            }
        case (.setItems, _):
            let items = try popMark()
            try setItems(items, on: try top())
        case (.put, .line(let l)):
            guard let k = Int(string(l)) else { throw fail(.pickleMalformed, "bad PUT key") }
            try memoPut(k, try top())
        case (.binPut, .int(let k)), (.longBinPut, .int(let k)): try memoPut(k, try top())
        case (.memoize, _): try memoPut(memoCount, try top())
        case (.get, .line(let l)):
            guard let k = Int(string(l)) else { throw fail(.pickleMalformed, "bad GET key") }
            try append(try memoGet(k))
        case (.binGet, .int(let k)), (.longBinGet, .int(let k)): try append(try memoGet(k))
        case (.global, .lines(let m, let n)): try push(interpreter.global(module: m, name: n))
        case (.stackGlobal, _):
            let n = try pop(), m = try pop()
            guard let ms = m.value.asString, let ns = n.value.asString else { throw fail(.pickleMalformed, "STACK_GLOBAL needs two strings") }
            try push(interpreter.global(module: ms, name: ns))
        case (.reduce, _):
            let args = try pop(), callable = try pop()
            guard let a = args.value.elements else { throw fail(.pickleMalformed, "REDUCE arguments are not a tuple") }
            let result = try call(callable.value, a)
            if case let .dict(d) = result { try charge(8 &* d.count) }
            try push(result, depth: depthOfValue(args))
        case (.newObj, _):
            let args = try pop(), cls = try pop()
            guard case let .tuple(a) = args.value else { throw fail(.pickleMalformed, "NEWOBJ arguments are not a tuple") }
            try push(try newObject(cls.value, a), depth: depthOfValue(args))
        case (.newObjEx, _):
            let kwargs = try pop(), args = try pop(), cls = try pop()
            guard case let .tuple(a) = args.value else { throw fail(.pickleMalformed, "NEWOBJ_EX arguments are not a tuple") }
            if let kw = kwargs.value.asDict, kw.count > 0 { throw fail(.unsupported, "NEWOBJ_EX with keyword arguments") }
            try push(try newObject(cls.value, a), depth: depthOfValue(args))
        case (.inst, .lines(let m, let n)):
            let items = try popMark()
            try push(try call(interpreter.global(module: m, name: n), items.map(\.value)))
        case (.obj, _):
            let items = try popMark()
            guard let first = items.first else { throw fail(.pickleMalformed, "OBJ without a class") }
            try push(try call(first.value, items.dropFirst().map(\.value)))
        case (.build, _):
            let state = try pop()
            let target = try top()
            try build(target, state)
        case (.persID, .line(let l)):
            try push(try interpreter.persistentLoad(.string(PickleMachine.text(bytes(l))), offset: opStart))
        case (.binPersID, _):
            let pid = try pop()
            try push(try interpreter.persistentLoad(pid.value, offset: opStart))
        case (.ext1, _), (.ext2, _), (.ext4, _):
            throw fail(.unsupported, "extension-registry opcodes (EXT1/2/4) name code by number; refused")
        case (.nextBuffer, _), (.readonlyBuffer, _):
            throw fail(.unsupported, "out-of-band buffers (protocol 5 NEXT_BUFFER) are not part of a weights file")
        default:
            throw fail(.pickleMalformed, "opcode \(op) with an argument of the wrong kind")
        }
    }

    mutating func append<C: Collection<Entry>>(_ items: C, to target: Entry) throws {
        switch target.value {
        case let .list(l):
            l.items.append(contentsOf: items.lazy.map(\.value))
            try grow(l, with: items)
        case let .set(s):
            s.items.append(contentsOf: items.lazy.map(\.value))
            try grow(s, with: items)
        case let .object(o):
            // list subclasses rebuilt with NEWOBJ keep their items as arguments
            o.args.append(contentsOf: items.lazy.map(\.value))
            try grow(o, with: items)
        default: throw fail(.pickleMalformed, "APPEND on a \(target.value.typeName)")
        }
    }

    mutating func fill(_ d: PyDict, _ items: [Entry]) throws {
        if items.count % 2 != 0 { throw fail(.pickleMalformed, "odd number of items for a dict") }
        if items.count > 2 { d.reserve(items.count / 2) }
        var i = 0
        while i < items.count {
            try chargeKey(items[i].value)
            d.set(items[i].value, items[i + 1].value)
            i += 2
        }
    }

    /// A dict key costs its bytes (they are hashed and compared).
    mutating func chargeKey(_ k: PickleValue) throws {
        switch k {
        case let .string(k): try charge(k.utf8.count)
        case let .bytes(k): try charge(k.count)
        default: try charge(8)
        }
    }

    mutating func setItems(_ items: [Entry], on target: Entry) throws {
        switch target.value {
        case let .dict(d):
            try fill(d, items)
            try grow(d, with: items)
        case let .object(o):
            // dict subclasses rebuilt with NEWOBJ: keep the items in a dict state
            let d: PyDict
            if case let .dict(existing)? = o.state { d = existing } else { d = PyDict(); o.state = .dict(d); try register(d, depth: 0) }
            try fill(d, items)
            try grow(d, with: items)
            try grow(o, childDepth: d.vmDepth)
        default: throw fail(.pickleMalformed, "SETITEM on a \(target.value.typeName)")
        }
    }

    func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case let .global(m, n) = callable else {
            throw fail(.pickleMalformed, "call of a \(callable.typeName), not of a global")
        }
        do {
            return try interpreter.call(module: m, name: n, args: args, offset: opStart)
        } catch var e as FormatError {
            if e.offset == nil { e.offset = opStart }
            if e.entry == nil { e.entry = entry }
            throw e
        }
    }

    func newObject(_ cls: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case let .global(m, n) = cls else { throw fail(.pickleMalformed, "NEWOBJ of a \(cls.typeName)") }
        if m == "collections" && n == "OrderedDict" { return .dict(PyDict(className: "collections.OrderedDict")) }
        return .object(PyObject(module: m, name: n, args: args, fromCall: false))
    }

    mutating func build(_ target: Entry, _ state: Entry) throws {
        switch target.value {
        case let .object(o):
            if case let .dict(existing)? = o.state, case let .dict(new) = state.value {
                try charge(8 &* new.count)
                for (k, v) in new.entries { existing.set(k, v) }
            } else {
                o.state = state.value
            }
            try grow(o, with: CollectionOfOne(state))
        case let .dict(d):
            d.attributes = state.value
            try grow(d, with: CollectionOfOne(state))
        case .tensor:
            break  // python attributes on a tensor (BUILD after _rebuild_from_type) carry no weights
        default:
            throw fail(.pickleMalformed, "BUILD on a \(target.value.typeName)")
        }
    }

    // MARK: checks

    /// Exact nesting depth of the finished value, iteratively; shared containers counted once, cycles
    /// refused. Marks every container the result reaches (`vmWalk` > 0).
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
