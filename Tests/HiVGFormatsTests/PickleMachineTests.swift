import XCTest
import HiVGTestSupport
@testable import HiVGFormats
import HiVGCore

/// Hand-assembled pickles for each opcode family and every limit.
final class PickleMachineTests: XCTestCase {
    private final class NoTorch: PickleInterpreter {
        func call(module: String, name: String, args: [PickleValue], offset: Int) throws -> PickleValue {
            if module == "collections" && name == "OrderedDict" { return .dict(PyDict(className: "collections.OrderedDict")) }
            throw FormatError(.forbiddenCall, file: "t", global: module + "." + name, "refused")
        }
        func persistentLoad(_ pid: PickleValue, offset: Int) throws -> PickleValue { .string("pid") }
        func global(module: String, name: String) -> PickleValue { .global(module: module, name: name) }
    }

    private func run(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws -> PickleValue {
        let interp = NoTorch()
        return try bytes.withUnsafeBytes { try PickleMachine(data: $0, file: "t", entry: nil, limits: limits, interpreter: interp).run() }
    }

    private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testProtocol0TextOpcodes() throws {
        // (lp0\nI1\naL-5L\naF2.5\naS'a\\'b'\naVx\\u00e9\naI01\na.
        let v = try run(b("(lp0\nI1\naL-123456789012345678901234567890L\naF2.5\naS'a\\'b\\x41'\naVx\\u00e9\naI01\na(lp1\nag1\na."))
        guard case let .list(l) = v else { return XCTFail("not a list") }
        XCTAssertEqual(l.items.count, 8)
        XCTAssertEqual(l.items[0].asInt, 1)
        guard case let .bigInt(big) = l.items[1] else { return XCTFail("not a big int") }
        XCTAssertEqual(big, "-123456789012345678901234567890")
        guard case let .float(f) = l.items[2] else { return XCTFail() }
        XCTAssertEqual(f, 2.5)
        XCTAssertEqual(l.items[3].asString, "a'bA")
        XCTAssertEqual(l.items[4].asString, "xé")
        guard case .bool(true) = l.items[5] else { return XCTFail("I01 is True") }
        guard case let .list(inner) = l.items[6], case let .list(same) = l.items[7] else { return XCTFail("memo GET") }
        XCTAssertTrue(same === inner, "memo returns the same list object")
    }

    func testLong1SignAndWidth() throws {
        XCTAssertEqual(PickleMachine.long([0xFF]).asInt, -1)
        XCTAssertEqual(PickleMachine.long([0x00, 0x80]).asInt, -32768)
        XCTAssertEqual(PickleMachine.long([0x00, 0x80, 0x00]).asInt, 32768)
        XCTAssertEqual(PickleMachine.long([0x00, 0x80, 0xFF]).asInt, -32768)
        guard case let .bigInt(s) = PickleMachine.long([0, 0, 0, 0, 0, 0, 0, 0, 0xC0]) else { return XCTFail() }
        XCTAssertEqual(s, "-1180591620717411303424")  // -2**70
        guard case let .bigInt(p) = PickleMachine.long([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) else { return XCTFail() }
        XCTAssertEqual(p, LegacyReader.magicDecimal)
    }

    func testProtocol4FramesStackGlobalMemoize() throws {
        var p: [UInt8] = [0x80, 0x04, 0x95, 0x20, 0, 0, 0, 0, 0, 0, 0]
        p += [0x8C, 11] + b("collections") + [0x94, 0x8C, 11] + b("OrderedDict") + [0x94, 0x93, 0x94, 0x29, 0x52, 0x94]
        p += [0x8C, 1] + b("k") + [0x43, 2, 1, 2, 0x73, 0x2E]
        let v = try run(p)
        let d = try XCTUnwrap(v.asDict)
        XCTAssertEqual(d.className, "collections.OrderedDict")
        guard case let .bytes(bytes)? = d["k"] else { return XCTFail("SHORT_BINBYTES") }
        XCTAssertEqual(bytes, [1, 2])
    }

    func testNewObjBuildIsInertRecord() throws {
        // GLOBAL argparse Namespace, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, 'model' 'ViT', SETITEM, BUILD, STOP
        var p: [UInt8] = [0x80, 0x02] + b("cargparse\nNamespace\n") + [0x29, 0x81, 0x7D]
        p += [0x58, 5, 0, 0, 0] + b("model") + [0x58, 3, 0, 0, 0] + b("ViT") + [0x73, 0x62, 0x2E]
        guard case let .object(o) = try run(p) else { return XCTFail() }
        XCTAssertEqual(o.className, "argparse.Namespace")
        XCTAssertEqual(o["model"]?.asString, "ViT")
        XCTAssertFalse(o.fromCall)
    }

    func testReduceOfUnknownGlobalIsRefusedWithItsName() throws {
        let p: [UInt8] = [0x80, 0x02] + b("cposix\nsystem\n") + [0x58, 2, 0, 0, 0] + b("ls") + [0x85, 0x52, 0x2E]
        let e = assertFormatError(.forbiddenCall) { _ = try run(p) }
        XCTAssertEqual(e?.global, "posix.system")
    }

    func testMalformedStacks() throws {
        assertFormatError(.pickleMalformed) { _ = try run([0x28, 0x4E, 0x2E]) }       // MARK left
        assertFormatError(.pickleMalformed) { _ = try run([0x4E, 0x4E, 0x2E]) }       // two items at STOP
        assertFormatError(.pickleMalformed) { _ = try run([0x2E]) }                   // empty stack
        assertFormatError(.pickleMalformed) { _ = try run([0x61, 0x2E]) }             // APPEND on nothing
        assertFormatError(.pickleMalformed) { _ = try run([0x68, 0x05, 0x2E]) }       // GET of unknown memo
        assertFormatError(.pickleMalformed) { _ = try run([0xFF]) }                   // unknown opcode
        assertFormatError(.truncated) { _ = try run([0x80, 0x02, 0x58, 0xFF, 0xFF, 0, 0]) }  // string past the end
        assertFormatError(.truncated) { _ = try run([0x4E]) }                         // no STOP
        assertFormatError(.unsupported) { _ = try run([0x82, 0x01, 0x2E]) }           // EXT1
    }

    func testNestingLimitWithTuplesAndLists() throws {
        var limits = PickleLimits()
        limits.maxDepth = 50
        let ok = [UInt8](repeating: 0x5D, count: 1) + [UInt8](repeating: 0x85, count: 49) + [0x2E]
        XCTAssertNoThrow(try run(ok, limits: limits))
        let deep = [UInt8](repeating: 0x5D, count: 1) + [UInt8](repeating: 0x85, count: 60) + [0x2E]
        assertFormatError(.pickleLimit) { _ = try run(deep, limits: limits) }
        // Lists nested through memo after insertion: caught by the final exact check.
        var p: [UInt8] = []
        for i in 0 ..< 60 { p += [0x5D, 0x71, UInt8(i), 0x30] }             // 60 empty lists in the memo
        for i in 0 ..< 59 { p += [0x68, UInt8(i), 0x68, UInt8(i + 1), 0x61, 0x30] }  // list i gets list i+1
        p += [0x68, 0, 0x2E]
        assertFormatError(.pickleLimit) { _ = try run(p, limits: limits) }
    }

    func testSelfContainingListIsRefused() throws {
        assertFormatError(.pickleMalformed) { _ = try run([0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E]) }
    }

    func testMemoStringAndOpcodeLimits() throws {
        var limits = PickleLimits()
        limits.maxMemo = 10
        var p: [UInt8] = [0x4E]
        for i in 0 ..< 11 { p += [0x71, UInt8(i)] }
        assertFormatError(.pickleLimit) { _ = try run(p + [0x2E], limits: limits) }
        limits = PickleLimits()
        limits.maxBytes = 16
        assertFormatError(.pickleLimit) { _ = try run([0x58, 17, 0, 0, 0] + [UInt8](repeating: 0x41, count: 17) + [0x2E], limits: limits) }
        assertFormatError(.pickleLimit) { _ = try run([0x8E] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + [0x2E]) }
        limits = PickleLimits()
        limits.maxOps = 100
        assertFormatError(.pickleLimit) { _ = try run([0x4E] + [UInt8](repeating: 0x32, count: 200) + [0x2E], limits: limits) }
    }

    func testOpcodeTableIsComplete() {
        // Every opcode of protocols 0–5 that data pickles use is declared once.
        XCTAssertEqual(PickleOp.allCases.count, 68)
        XCTAssertEqual(Set(PickleOp.allCases.map(\.rawValue)).count, PickleOp.allCases.count)
    }
}
