import Foundation
import HiVGCore

/// `inspect`: what a checkpoint holds, as a typed report. The tensor and module listings are made one
/// record at a time as they are written (a file of a million tensors is never listed in memory twice).
public struct InspectReport: Encodable, Sendable {
    /// One tensor of the listing.
    public struct TensorRecord: Codable, Sendable {
        public var name, dtype: String
        public var shape: [Int]
        public var nbytes: Int
        /// With `--hash`: SHA-256 of the contiguous little-endian bytes.
        public var sha256: String?

        /// The record as `JSONValueEncoder` encodes it, built directly (a million of them are streamed by
        /// `inspect --json`; Tests/cli/reports.sh checks that both spell the same document).
        public var json: HiVGCore.JSONValue {
            var m: [(String, HiVGCore.JSONValue)] = [("dtype", .string(dtype)), ("name", .string(name)), ("nbytes", .int(nbytes))]
            if let sha256 { m.append(("sha256", .string(sha256))) }
            m.append(("shape", .array(shape.map { .int($0) })))
            return .object(m)
        }

        /// `json`'s text, written straight into `w` (no `JSONValue`: a million records are streamed).
        public func write(to w: inout PrettyJSONBytes) {
            w.beginObject()
            w.key("dtype"); w.string(dtype)
            w.key("name"); w.string(name)
            w.key("nbytes"); w.int(nbytes)
            if let sha256 { w.key("sha256"); w.string(sha256) }
            w.key("shape"); w.ints(shape)
            w.endObject()
        }
    }

    /// One prefix of the module tree.
    public struct ModuleRecord: Codable, Sendable {
        public var prefix: String
        public var tensors, parameters, bytes: Int
        public var dtypes: [String]

        /// The record as `JSONValueEncoder` encodes it, built directly (streamed; see `TensorRecord.json`).
        public var json: HiVGCore.JSONValue {
            .object([("bytes", .int(bytes)), ("dtypes", .array(dtypes.map { .string($0) })), ("parameters", .int(parameters)),
                     ("prefix", .string(prefix)), ("tensors", .int(tensors))])
        }

        /// `json`'s text, written straight into `w` (see `TensorRecord.write`).
        public func write(to w: inout PrettyJSONBytes) {
            w.beginObject()
            w.key("bytes"); w.int(bytes)
            w.key("dtypes"); w.strings(dtypes)
            w.key("parameters"); w.int(parameters)
            w.key("prefix"); w.string(prefix)
            w.key("tensors"); w.int(tensors)
            w.endObject()
        }
    }

    /// A non-tensor entry of the state dict.
    public struct Ignored: Codable, Sendable {
        public var name, type: String
    }

    /// A block-quantized tensor, still encoded.
    public struct Encoded: Codable, Sendable {
        public var name, encoding: String
        public var shape: [Int]
        public var nbytes: Int
    }

    /// A top-level entry of a pickled container: its value as JSON (scalars and records as themselves,
    /// anything else summarized) is made only when the report is encoded (the text report never needs it).
    public struct StructureEntry: Encodable, Sendable {
        public var key, type: String
        public var pickle: PickleValue?

        enum CodingKeys: String, CodingKey { case key, type, value }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            try c.encode(type, forKey: .type)
            if let pickle { try c.encode(InspectReport.json(pickle: pickle), forKey: .value) }
        }
    }

    /// A GGUF key-value pair that is not a string (strings are in `metadata`).
    public struct KeyValue: Encodable, Sendable {
        public var key, type: String
        /// Numbers and booleans as themselves; arrays summarized (`[UINT32 × 49408: 0, 1, …]`).
        public var value: HiVGCore.JSONValue
    }

    public var path, format: String
    public var select: [String]
    public var metadata: [String: String]
    public var tensorCount, parameters, bytes: Int
    /// The listed tensors (all, or those matching the filter).
    public var tensors: LazyRecords<TensorRecord>
    public var modules: LazyRecords<ModuleRecord>
    public var ignored: [Ignored]
    public var encoded: [Encoded]
    public var structure: [StructureEntry]
    /// A folder's config.json, parsed.
    public var config: HiVGCore.JSONValue?
    /// GGUF files: the numeric, boolean and array KV pairs.
    public var kv: [KeyValue]?
    /// Text report only: tensors per dtype (sorted by dtype), every encoded tensor (unfiltered), and the
    /// container's top-level entries as `(key, detail)` lines.
    public var dtypeCounts: [(String, Int)] = []
    public var encodedAll: [Encoded] = []
    public var contents: [(key: String, detail: String)] = []

    enum CodingKeys: String, CodingKey {
        case path, format, select, metadata, parameters, bytes, tensors, modules, ignored, encoded, structure, config, kv
        case tensorCount = "tensor_count"
    }

    /// The report of `c`: tensors matching `filter` (all when nil) with their hashes when given, the
    /// module tree to `depth` components.
    public init(_ c: Checkpoint, filter: ((String) -> Bool)?, hashes: [String: String], depth: Int) {
        path = c.path
        format = c.format
        select = c.select
        metadata = c.graph.metadata
        tensorCount = c.graph.count
        parameters = c.graph.parameterCount
        bytes = c.graph.byteCount
        // Indices into the graph's own arrays, not a copy of its (name, tensor) pairs: a million-entry
        // header lists within issue 20's metadata budget.
        let names = c.graph.names, all = c.graph.tensorsInOrder
        let listed: [Int]? = filter.map { f in names.indices.filter { f(names[$0]) } }
        tensors = LazyRecords(count: listed?.count ?? names.count) { k in
            let i = listed?[k] ?? k
            let t = all[i]
            return TensorRecord(name: names[i], dtype: t.dtype.rawValue, shape: t.shape, nbytes: t.nbytes, sha256: hashes[names[i]])
        }
        let summary = c.graph.moduleSummary(depth: depth)
        modules = LazyRecords(count: summary.count) { i in
            let m = summary[i]
            return ModuleRecord(prefix: m.prefix, tensors: m.tensors, parameters: m.parameters, bytes: m.bytes, dtypes: m.dtypes)
        }
        ignored = c.ignored.map { Ignored(name: $0.name, type: $0.type) }
        encoded = c.encoded.filter { filter?($0.name) ?? true }.map {
            Encoded(name: $0.name, encoding: $0.scheme, shape: $0.shape, nbytes: $0.source.byteCount)
        }
        structure = InspectReport.structure(c).map { StructureEntry(key: $0.key, type: $0.type, pickle: $0.value) }
        config = c.configJSON.map { text in
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))).map { HiVGCore.JSONValue(any: $0) } ?? .string(text)
        }
        var dtypes: [String: Int] = [:]
        for t in c.graph.tensorsInOrder { dtypes[t.dtype.rawValue, default: 0] += 1 }
        dtypeCounts = dtypes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        encodedAll = c.encoded.map { Encoded(name: $0.name, encoding: $0.scheme, shape: $0.shape, nbytes: $0.source.byteCount) }
        contents = InspectReport.structure(c).map { e in
            let detail: String
            if c.select.first == e.key, c.select.count == 1 { detail = "state dict, \(ReportText.counted(c.graph.count, "tensor"))" }
            else if let v = e.value, case .dict(let d) = v { detail = "\(e.type), \(ReportText.counted(d.count, "entry", "entries"))" }
            else { detail = e.value?.summary(maxLength: 200) ?? e.type }
            return (e.key, detail)
        }
        let numeric = c.ggufKV.filter { $0.value.string == nil }
        kv = c.format == "gguf" ? numeric.map { KeyValue(key: $0.key, type: $0.value.type.name, value: InspectReport.json($0.value)) } : nil
    }

    /// The top-level entries of a pickled container (none for a TorchScript archive, whose root is code).
    static func structure(_ c: Checkpoint) -> [(key: String, type: String, value: PickleValue?)] {
        guard let root = c.root, let d = root.asDict, c.format != "torchscript" else { return [] }
        return d.entries.map { k, v in (k.asString ?? k.summary(maxLength: 40), v.typeName, v) }
    }

    /// A pickled value as `--json` shows it: scalars as themselves (None as null), records such as
    /// argparse.Namespace with every field, anything else as a short summary.
    static func json(pickle v: PickleValue) -> HiVGCore.JSONValue {
        func scalar(_ x: Any) -> HiVGCore.JSONValue {
            if x is NSNullLike { return .null }
            if let d = x as? [String: Any] { return .object(d.map { ($0.key, scalar($0.value)) }) }
            return HiVGCore.JSONValue(any: x)
        }
        return scalar(v.jsonScalar)
    }

    static func json(_ v: GGUFValue) -> HiVGCore.JSONValue {
        if let b = v.bool { return .bool(b) }
        if let i = v.int { return .int(i) }
        if let d = v.double { return .double(d) }
        return .string(v.description)
    }
}
