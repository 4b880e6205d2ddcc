import HiVGCore

extension PickleRun {
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
}
