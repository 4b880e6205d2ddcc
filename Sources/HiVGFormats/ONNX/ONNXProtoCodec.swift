#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CONNXProto
import CProtobufC
import HiVGCore

/// The only Swift file that imports CONNXProto / CProtobufC: packs the pieces of an ONNX `ModelProto`
/// the writer streams (every field but the initializers' bytes) and unpacks a whole model for the reader.
/// protobuf-c packs fields in field-number order and repeated fields in array order, so equal inputs
/// give equal bytes.
enum ONNXProtoCodec {
    // MARK: encode

    /// `ModelProto` fields 1–6: ir_version, producer name and version, doc string.
    static func modelHead(_ m: ONNXModel) throws -> [UInt8] {
        let a = ONNXArena()
        let p = a.message(Onnx__ModelProto.self, onnx__model_proto__init)
        p.pointee.has_ir_version = 1
        p.pointee.ir_version = Int64(m.irVersion)
        p.pointee.producer_name = try a.string(m.producerName)
        if !m.producerVersion.isEmpty { p.pointee.producer_version = try a.string(m.producerVersion) }
        if !m.docString.isEmpty { p.pointee.doc_string = try a.string(m.docString) }
        return pack(p, onnx__model_proto__get_packed_size, onnx__model_proto__pack)
    }

    /// `ModelProto` fields after the graph: opset_import (8) and metadata_props (14, sorted by key).
    static func modelTail(_ m: ONNXModel) throws -> [UInt8] {
        let a = ONNXArena()
        let p = a.message(Onnx__ModelProto.self, onnx__model_proto__init)
        p.pointee.n_opset_import = m.opsets.count
        p.pointee.opset_import = try a.array(m.opsets.map { o in
            let q = a.message(Onnx__OperatorSetIdProto.self, onnx__operator_set_id_proto__init)
            q.pointee.domain = try a.string(o.domain)
            q.pointee.has_version = 1
            q.pointee.version = Int64(o.version)
            return q
        })
        let keys = m.metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        p.pointee.n_metadata_props = keys.count
        p.pointee.metadata_props = try a.array(keys.map { try a.entry($0, m.metadata[$0]!) })
        return pack(p, onnx__model_proto__get_packed_size, onnx__model_proto__pack)
    }

    /// `GraphProto` fields before the initializers: node (1) and name (2).
    static func graphHead(_ m: ONNXModel) throws -> [UInt8] {
        let a = ONNXArena()
        let g = a.message(Onnx__GraphProto.self, onnx__graph_proto__init)
        g.pointee.n_node = m.nodes.count
        g.pointee.node = try a.array(m.nodes.map { try node($0, a) })
        g.pointee.name = try a.string(m.graphName)
        return pack(g, onnx__graph_proto__get_packed_size, onnx__graph_proto__pack)
    }

    /// `GraphProto` fields after the initializers: input (11) and output (12).
    static func graphTail(_ m: ONNXModel) throws -> [UInt8] {
        let a = ONNXArena()
        let g = a.message(Onnx__GraphProto.self, onnx__graph_proto__init)
        g.pointee.n_input = m.inputs.count
        g.pointee.input = try a.array(m.inputs.map { try valueInfo($0, a) })
        g.pointee.n_output = m.outputs.count
        g.pointee.output = try a.array(m.outputs.map { try valueInfo($0, a) })
        return pack(g, onnx__graph_proto__get_packed_size, onnx__graph_proto__pack)
    }

    /// Where an external tensor's bytes are: the data file's name (relative), offset and length.
    struct ExternalLocation { var location: String; var offset: Int; var length: Int }

    /// A `TensorProto` without its `raw_data` (field 9, which the writer appends for inline tensors):
    /// dims (1), data_type (2), name (8), and for external tensors external_data (13) + data_location (14).
    static func tensorHead(name: String, type: ONNXElementType, dims: [Int], external: ExternalLocation?) throws -> [UInt8] {
        let a = ONNXArena()
        let t = try tensor(name: name, type: type, dims: dims, raw: nil, a)
        if let e = external {
            let entries = [("location", e.location), ("offset", String(e.offset)), ("length", String(e.length))]
            t.pointee.n_external_data = entries.count
            t.pointee.external_data = try a.array(entries.map { try a.entry($0.0, $0.1) })
            t.pointee.has_data_location = 1
            t.pointee.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL
        }
        return pack(t, onnx__tensor_proto__get_packed_size, onnx__tensor_proto__pack)
    }

    private static func node(_ n: ONNXNode, _ a: ONNXArena) throws -> UnsafeMutablePointer<Onnx__NodeProto> {
        let p = a.message(Onnx__NodeProto.self, onnx__node_proto__init)
        p.pointee.n_input = n.inputs.count
        p.pointee.input = try a.strings(n.inputs)
        p.pointee.n_output = n.outputs.count
        p.pointee.output = try a.strings(n.outputs)
        p.pointee.name = try a.string(n.name)
        p.pointee.op_type = try a.string(n.opType)
        if !n.domain.isEmpty { p.pointee.domain = try a.string(n.domain) }
        p.pointee.n_attribute = n.attributes.count
        p.pointee.attribute = try a.array(n.attributes.map { try attribute($0.name, $0.value, a) })
        return p
    }

    private static func attribute(_ name: String, _ v: ONNXAttribute, _ a: ONNXArena) throws -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let p = a.message(Onnx__AttributeProto.self, onnx__attribute_proto__init)
        p.pointee.name = try a.string(name)
        p.pointee.has_type = 1
        switch v {
        case let .int(i):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            p.pointee.has_i = 1; p.pointee.i = Int64(i)
        case let .ints(v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            p.pointee.n_ints = v.count; p.pointee.ints = a.values(v.map(Int64.init))
        case let .float(f):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            p.pointee.has_f = 1; p.pointee.f = f
        case let .floats(v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
            p.pointee.n_floats = v.count; p.pointee.floats = a.values(v)
        case let .string(s):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING
            p.pointee.has_s = 1; p.pointee.s = a.binary(Array(s.utf8))
        case let .tensor(type, dims, bytes):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR
            p.pointee.t = try tensor(name: "", type: type, dims: dims, raw: bytes, a)
        case let .other(kind):
            throw FormatError(.onnx, file: "", "attribute `\(name)`: cannot write a \(kind) attribute")
        }
        return p
    }

    private static func tensor(name: String, type: ONNXElementType, dims: [Int], raw: [UInt8]?,
                               _ a: ONNXArena) throws -> UnsafeMutablePointer<Onnx__TensorProto> {
        let t = a.message(Onnx__TensorProto.self, onnx__tensor_proto__init)
        t.pointee.n_dims = dims.count
        t.pointee.dims = a.values(dims.map(Int64.init))
        t.pointee.has_data_type = 1
        t.pointee.data_type = type.rawValue
        if !name.isEmpty { t.pointee.name = try a.string(name) }
        if let raw { t.pointee.has_raw_data = 1; t.pointee.raw_data = a.binary(raw) }
        return t
    }

    private static func valueInfo(_ v: ONNXValue, _ a: ONNXArena) throws -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let p = a.message(Onnx__ValueInfoProto.self, onnx__value_info_proto__init)
        p.pointee.name = try a.string(v.name)
        let tt = a.message(Onnx__TypeProto__Tensor.self, onnx__type_proto__tensor__init)
        tt.pointee.has_elem_type = 1
        tt.pointee.elem_type = v.type.rawValue
        if let shape = v.shape {
            let s = a.message(Onnx__TensorShapeProto.self, onnx__tensor_shape_proto__init)
            s.pointee.n_dim = shape.count
            s.pointee.dim = try a.array(shape.map { d in
                let q = a.message(Onnx__TensorShapeProto__Dimension.self, onnx__tensor_shape_proto__dimension__init)
                switch d {
                case let .fixed(n):
                    q.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                    q.pointee.dim_value = Int64(n)
                case let .symbolic(name):
                    q.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                    q.pointee.dim_param = try a.string(name)
                }
                return q
            })
            tt.pointee.shape = s
        }
        let t = a.message(Onnx__TypeProto.self, onnx__type_proto__init)
        t.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        t.pointee.tensor_type = tt
        p.pointee.type = t
        return p
    }

    private static func pack<T>(_ p: UnsafeMutablePointer<T>, _ size: (UnsafePointer<T>?) -> Int,
                                _ packInto: (UnsafePointer<T>?, UnsafeMutablePointer<UInt8>?) -> Int) -> [UInt8] {
        let n = size(p)
        var out = [UInt8](repeating: 0, count: n)
        let written = out.withUnsafeMutableBufferPointer { packInto(p, $0.baseAddress) }
        precondition(written == n, "protobuf-c packed \(written) of \(n) bytes")
        return out
    }
}

/// C memory for one message being packed: every block freed together when the arena goes.
fileprivate final class ONNXArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { free(b) } }

    private func raw(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = malloc(max(bytes, 1))!
        blocks.append(p)
        return p
    }

    func message<T>(_: T.Type, _ initialize: (UnsafeMutablePointer<T>?) -> Void) -> UnsafeMutablePointer<T> {
        let p = raw(MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
        initialize(p)
        return p
    }

    /// A C string; names and metadata reach C as NUL-terminated strings, so an inner NUL is refused.
    func string(_ s: String) throws -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(s.utf8)
        if utf8.contains(0) { throw FormatError(.onnx, file: "", "string \(String(reflecting: s)) contains a NUL byte") }
        let p = raw(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return p
    }

    func strings(_ v: [String]) throws -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        values(try v.map { Optional(try string($0)) })
    }

    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: bytes.count, data: values(bytes))
    }

    func entry(_ key: String, _ value: String) throws -> UnsafeMutablePointer<Onnx__StringStringEntryProto> {
        let e = message(Onnx__StringStringEntryProto.self, onnx__string_string_entry_proto__init)
        e.pointee.key = try string(key)
        e.pointee.value = try string(value)
        return e
    }

    func values<T>(_ v: [T]) -> UnsafeMutablePointer<T>? {
        guard !v.isEmpty else { return nil }
        let p = raw(MemoryLayout<T>.stride * v.count).bindMemory(to: T.self, capacity: v.count)
        p.initialize(from: v, count: v.count)
        return p
    }

    func array<T>(_ v: [UnsafeMutablePointer<T>]) throws -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        values(v.map { Optional($0) })
    }
}

// MARK: decode

/// A model unpacked by protobuf-c, kept alive for its inline initializer bytes; freed on deinit.
final class ONNXUnpackedModel {
    /// The Swift description of everything but the tensor bytes.
    let info: ONNXModelInfo
    private let model: UnsafeMutablePointer<Onnx__ModelProto>
    private let budget: ONNXAllocationBudget

    /// Unpacks `bytes`; protobuf-c's allocations are counted against `budget` bytes, so a small file
    /// that declares huge repeated fields fails instead of exhausting memory.
    init(bytes: UnsafeRawBufferPointer, file: String, budget limit: Int) throws {
        let budget = ONNXAllocationBudget(limit: limit)
        var allocator = ProtobufCAllocator(
            alloc: { data, size in
                let b = Unmanaged<ONNXAllocationBudget>.fromOpaque(data!).takeUnretainedValue()
                return b.allocate(size)
            },
            free: { data, pointer in
                Unmanaged<ONNXAllocationBudget>.fromOpaque(data!).takeUnretainedValue().release(pointer)
            },
            allocator_data: Unmanaged.passUnretained(budget).toOpaque())
        var empty: UInt8 = 0
        let unpacked = withUnsafePointer(to: &empty) { e in
            onnx__model_proto__unpack(&allocator, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? e)
        }
        guard let m = unpacked else {
            if budget.exceeded {
                throw FormatError(.onnx, file: file, "decoding needs more than \(limit) bytes of memory (the reader's limit for this file size)")
            }
            throw FormatError(.onnx, file: file, "not a valid ONNX ModelProto (protobuf decoding failed)")
        }
        self.model = m
        self.budget = budget
        info = ONNXUnpackedModel.describe(m.pointee, file: file)
    }

    deinit {
        var allocator = ProtobufCAllocator(
            alloc: { data, size in Unmanaged<ONNXAllocationBudget>.fromOpaque(data!).takeUnretainedValue().allocate(size) },
            free: { data, pointer in Unmanaged<ONNXAllocationBudget>.fromOpaque(data!).takeUnretainedValue().release(pointer) },
            allocator_data: Unmanaged.passUnretained(budget).toOpaque())
        onnx__model_proto__free_unpacked(model, &allocator)
    }

    /// The `raw_data` of initializer `index` (nil when it has none).
    func rawData(_ index: Int) -> UnsafeRawBufferPointer? {
        guard let g = model.pointee.graph, index < g.pointee.n_initializer, let t = g.pointee.initializer[index],
              t.pointee.has_raw_data != 0 else { return nil }
        return UnsafeRawBufferPointer(start: t.pointee.raw_data.data, count: t.pointee.raw_data.len)
    }

    private static func describe(_ m: Onnx__ModelProto, file: String) -> ONNXModelInfo {
        let g = m.graph?.pointee
        return ONNXModelInfo(
            file: file, irVersion: Int(m.ir_version),
            opsets: list(m.opset_import, m.n_opset_import).map { ONNXOpset(domain: str($0.domain), version: Int($0.version)) },
            producerName: str(m.producer_name), producerVersion: str(m.producer_version), domain: str(m.domain),
            modelVersion: Int(m.model_version), docString: str(m.doc_string), graphName: str(g?.name),
            inputs: g.map { list($0.input, $0.n_input).map(valueInfo) } ?? [],
            outputs: g.map { list($0.output, $0.n_output).map(valueInfo) } ?? [],
            initializers: g.map { list($0.initializer, $0.n_initializer).map(initializer) } ?? [],
            nodes: g.map { list($0.node, $0.n_node).map(node) } ?? [],
            metadata: list(m.metadata_props, m.n_metadata_props).map { ONNXMetadataEntry(key: str($0.key), value: str($0.value)) })
    }

    private static func valueInfo(_ v: Onnx__ValueInfoProto) -> ONNXValueInfo {
        var out = ONNXValueInfo(name: str(v.name), type: "none", elementType: nil, shape: nil)
        guard let t = v.type?.pointee else { return out }
        switch t.value_case {
        case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
            guard let tt = t.tensor_type?.pointee else { return out }
            out.elementType = ONNXElementType(rawValue: tt.elem_type)
            out.type = out.elementType?.name ?? String(tt.elem_type)
            out.shape = tt.shape.map { s in
                list(s.pointee.dim, s.pointee.n_dim).map { d in
                    switch d.value_case {
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: return .fixed(Int(d.dim_value))
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: return .symbolic(str(d.dim_param))
                    default: return .symbolic("?")
                    }
                }
            }
        case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: out.type = "sequence"
        case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: out.type = "map"
        case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: out.type = "optional"
        case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: out.type = "sparse_tensor"
        default: break
        }
        return out
    }

    private static func initializer(_ t: Onnx__TensorProto) -> ONNXInitializerInfo {
        let type = ONNXElementType(rawValue: t.data_type)
        var info = ONNXInitializerInfo(name: str(t.name), type: type?.name ?? String(t.data_type), elementType: type,
                                       dims: Array(UnsafeBufferPointer(start: t.dims, count: t.n_dims)).map { Int($0) },
                                       byteCount: 0, storage: .inline)
        if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            info.storage = .external
            for e in list(t.external_data, t.n_external_data) {
                let value = str(e.value)
                switch str(e.key) {
                case "location": info.externalFile = value
                case "offset": info.externalOffset = Int(value) ?? -1
                case "length": info.externalLength = Int(value) ?? -1
                default: break
                }
            }
            info.byteCount = info.externalLength ?? 0
        } else if t.has_raw_data != 0 {
            info.byteCount = t.raw_data.len
        } else {
            info.storage = .typedFields
            info.byteCount = t.n_float_data * 4 + t.n_int32_data * 4 + t.n_int64_data * 8 + t.n_double_data * 8 + t.n_uint64_data * 8
        }
        return info
    }

    private static func node(_ n: Onnx__NodeProto) -> ONNXNode {
        ONNXNode(name: str(n.name), opType: str(n.op_type), domain: str(n.domain),
                 inputs: (0 ..< n.n_input).map { str(n.input[$0]) }, outputs: (0 ..< n.n_output).map { str(n.output[$0]) },
                 attributes: list(n.attribute, n.n_attribute).map { (str($0.name), attribute($0)) })
    }

    private static func attribute(_ a: Onnx__AttributeProto) -> ONNXAttribute {
        switch a.type {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return .int(Int(a.i))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return .ints(UnsafeBufferPointer(start: a.ints, count: a.n_ints).map { Int($0) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return .float(a.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return .floats(Array(UnsafeBufferPointer(start: a.floats, count: a.n_floats)))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
            return .string(String(decoding: UnsafeBufferPointer(start: a.s.data, count: a.s.len), as: UTF8.self))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let t = a.t?.pointee, let type = ONNXElementType(rawValue: t.data_type) else { return .other("tensor of an unknown type") }
            let dims = UnsafeBufferPointer(start: t.dims, count: t.n_dims).map { Int($0) }
            if t.has_raw_data != 0 { return .tensor(type, dims, Array(UnsafeBufferPointer(start: t.raw_data.data, count: t.raw_data.len))) }
            if type == .float { return .tensor(type, dims, Array(UnsafeRawBufferPointer(UnsafeBufferPointer(start: t.float_data, count: t.n_float_data)))) }
            if type == .int64 { return .tensor(type, dims, Array(UnsafeRawBufferPointer(UnsafeBufferPointer(start: t.int64_data, count: t.n_int64_data)))) }
            return .other("tensor in typed fields")
        default: return .other("attribute type \(a.type.rawValue)")
        }
    }

    private static func str(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    private static func list<T>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int) -> [T] {
        guard let p else { return [] }
        return (0 ..< n).compactMap { p[$0]?.pointee }
    }
}
