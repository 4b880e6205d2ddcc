/// A graph input or output as the file declares it.
public struct ONNXValueInfo: Codable, Sendable, Equatable {
    /// The value name.
    public var name: String
    /// `FLOAT`, `INT64`, ... for tensors; `sequence`, `map`, `optional`, `sparse_tensor` or `none` otherwise.
    public var type: String
    /// The element type of a tensor value whose type number this schema knows.
    public var elementType: ONNXElementType?
    /// Dims of a tensor value with a shape (`?` for an axis with neither size nor name); nil without one.
    public var shape: [ONNXDim]?
}

/// One initializer: type, dims, byte count and where its bytes are.
public struct ONNXInitializerInfo: Codable, Sendable, Equatable {
    /// How the bytes are stored.
    public enum Storage: String, Codable, Sendable {
        /// `raw_data` inside the model file.
        case inline
        /// Typed fields (`float_data`, `int64_data`, ...) inside the model file.
        case typedFields = "typed-fields"
        /// A file beside the model (`external_data` location/offset/length).
        case external
    }

    /// The value name.
    public var name: String
    /// `FLOAT`, `INT8`, ... (the number when this schema does not know it).
    public var type: String
    /// The element type when known.
    public var elementType: ONNXElementType?
    /// The dims.
    public var dims: [Int]
    /// Bytes of the tensor's data.
    public var byteCount: Int
    /// Where the bytes are.
    public var storage: Storage
    /// External data: the location entry (relative to the model's folder).
    public var externalFile: String?
    /// External data: byte offset in that file.
    public var externalOffset: Int?
    /// External data: byte count in that file.
    public var externalLength: Int?
    /// SHA-256 of the bytes, when asked for (`inspect --hash`).
    public var sha256: String?
}

/// Everything the reader learned from a model file except node attribute values' bytes.
public struct ONNXModelInfo: Sendable {
    /// The model file.
    public var file: String
    /// `ir_version`.
    public var irVersion: Int
    /// Opset imports in file order.
    public var opsets: [ONNXOpset]
    /// `producer_name`.
    public var producerName: String
    /// `producer_version`.
    public var producerVersion: String
    /// `domain`.
    public var domain: String
    /// `model_version`.
    public var modelVersion: Int
    /// `doc_string`.
    public var docString: String
    /// `graph.name`.
    public var graphName: String
    /// Graph inputs (initializers listed as inputs too, by old exporters, included).
    public var inputs: [ONNXValueInfo]
    /// Graph outputs.
    public var outputs: [ONNXValueInfo]
    /// Initializers in file order.
    public var initializers: [ONNXInitializerInfo]
    /// Nodes in file order.
    public var nodes: [ONNXNode]
    /// `metadata_props` in file order.
    public var metadata: [ONNXMetadataEntry]
}

/// One `metadata_props` entry.
public struct ONNXMetadataEntry: Codable, Sendable, Equatable {
    /// The key.
    public var key: String
    /// The value.
    public var value: String
}

/// What `hivgkit inspect model.onnx` reports (its `--json` form).
public struct ONNXSummary: Codable, Sendable {
    /// Count of nodes of one op type.
    public struct OpCount: Codable, Sendable, Equatable {
        /// `MatMul`, or `com.microsoft:Attention` outside the default domain.
        public var op: String
        /// How many nodes.
        public var count: Int
    }

    /// Always `onnx`.
    public var format = "onnx"
    /// The model file.
    public var file: String
    /// `ir_version`.
    public var irVersion: Int
    /// Opset imports.
    public var opsets: [ONNXOpset]
    /// `producer_name`.
    public var producerName: String
    /// `producer_version`.
    public var producerVersion: String
    /// `graph.name`.
    public var graphName: String
    /// Graph inputs that are not initializers.
    public var inputs: [ONNXValueInfo]
    /// Graph outputs.
    public var outputs: [ONNXValueInfo]
    /// Number of initializers.
    public var initializerCount: Int
    /// Bytes of all initializers.
    public var initializerBytes: Int
    /// Files holding external data (relative to the model's folder), sorted.
    public var externalDataFiles: [String]
    /// Number of nodes.
    public var nodeCount: Int
    /// Nodes by op type, most frequent first (ties by name).
    public var opCounts: [OpCount]
    /// `metadata_props` in file order.
    public var metadata: [ONNXMetadataEntry]
    /// Every initializer (`--tensors`), else nil.
    public var tensors: [ONNXInitializerInfo]?

    /// The summary of a read model; `tensors` lists every initializer.
    public init(_ m: ONNXModelInfo, tensors: Bool) {
        file = m.file
        irVersion = m.irVersion
        opsets = m.opsets
        producerName = m.producerName
        producerVersion = m.producerVersion
        graphName = m.graphName
        let initialized = Set(m.initializers.map(\.name))
        inputs = m.inputs.filter { !initialized.contains($0.name) }
        outputs = m.outputs
        initializerCount = m.initializers.count
        initializerBytes = m.initializers.reduce(0) { $0.saturatingAdd($1.byteCount) }
        externalDataFiles = Set(m.initializers.compactMap(\.externalFile)).sorted()
        nodeCount = m.nodes.count
        var counts: [String: Int] = [:]
        for n in m.nodes { counts[n.domain.isEmpty ? n.opType : n.domain + ":" + n.opType, default: 0] += 1 }
        opCounts = counts.map { OpCount(op: $0.key, count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.op < $1.op }
        metadata = m.metadata
        self.tensors = tensors ? m.initializers : nil
    }
}
