import HiVGCore

/// Builds one ONNX graph: inputs, initializers, nodes and outputs, in the order they are added (that
/// order is the file's order, so the same calls give the same bytes).
///
/// Op methods do not throw, so an emitter reads like the forward pass it mirrors: a misuse (a name used
/// twice, a value of another graph's making) is recorded and `model(...)` throws it, naming the node.
public final class ONNXGraphBuilder {
    /// The graph's name (`GraphProto.name`).
    public var name: String
    /// Graph inputs in order.
    public private(set) var inputs: [ONNXValue] = []
    /// Graph outputs in order.
    public private(set) var outputs: [ONNXValue] = []
    /// Nodes in topological (insertion) order.
    public private(set) var nodes: [ONNXNode] = []
    /// Initializers in insertion order.
    public private(set) var initializers: [ONNXInitializer] = []
    /// Misuses found so far; `model` throws the first.
    public private(set) var problems: [String] = []

    private var valueNames: Set<String> = []
    private var nodeNames: Set<String> = []
    private var smallConstants: [ConstantKey: ONNXValue] = [:]
    private var constantCount = 0
    private var anonymousNodes = 0

    /// An empty graph.
    public init(name: String) { self.name = name }

    // MARK: graph interface

    /// Declares a graph input.
    @discardableResult
    public func input(_ name: String, _ type: ONNXElementType, _ shape: [ONNXDim]) -> ONNXValue {
        let v = ONNXValue(name: name, type: type, shape: shape)
        claim(value: name, by: "input")
        inputs.append(v)
        return v
    }

    /// Marks `value` as a graph output. Outputs need a known shape (ONNX value infos carry it); pass
    /// `shape` when the builder could not infer it.
    public func output(_ value: ONNXValue, shape: [ONNXDim]? = nil) {
        guard let s = shape ?? value.shape else {
            problems.append("output `\(value.name)`: shape unknown; pass it to output(_:shape:)")
            return
        }
        outputs.append(ONNXValue(name: value.name, type: value.type, shape: s))
    }

    /// Renames the result of the last node that produced `value` (graph outputs get public names such as
    /// `pred_box`). Only the newest node's outputs can be renamed, before anything consumes them.
    public func rename(_ value: ONNXValue, to newName: String) -> ONNXValue {
        guard let last = nodes.indices.last, let k = nodes[last].outputs.firstIndex(of: value.name) else {
            problems.append("rename `\(value.name)`: not an output of the newest node")
            return value
        }
        claim(value: newName, by: "rename")
        valueNames.remove(value.name)
        nodes[last].outputs[k] = newName
        return ONNXValue(name: newName, type: value.type, shape: value.shape)
    }

    // MARK: initializers

    /// Adds a weight or constant tensor; its byte count is checked against type and dims at write time.
    @discardableResult
    public func initializer(_ name: String, _ type: ONNXElementType, dims: [Int], data: ONNXTensorData) -> ONNXValue {
        claim(value: name, by: "initializer")
        initializers.append(ONNXInitializer(name: name, type: type, dims: dims, data: data))
        return ONNXValue(name: name, type: type, shape: dims.map { .fixed($0) })
    }

    /// A small constant, shared by every call with the same type, dims and bytes (shape vectors, axes,
    /// scalars repeat in every layer); named `/const/N` in first-use order.
    public func constant(_ type: ONNXElementType, dims: [Int], bytes: [UInt8]) -> ONNXValue {
        let key = ConstantKey(type: type, dims: dims, bytes: bytes)
        if bytes.count <= 256, let v = smallConstants[key] { return v }
        let n = "/const/\(constantCount)"
        constantCount += 1
        let v = initializer(n, type, dims: dims, data: .bytes(bytes))
        if bytes.count <= 256 { smallConstants[key] = v }
        return v
    }

    /// An int64 vector constant (shapes, axes, starts/ends).
    public func constant(int64s v: [Int]) -> ONNXValue {
        constant(.int64, dims: [v.count], bytes: v.map(Int64.init).withUnsafeBytes { Array($0) })
    }

    /// An int64 scalar constant.
    public func constant(int64 v: Int) -> ONNXValue {
        constant(.int64, dims: [], bytes: withUnsafeBytes(of: Int64(v)) { Array($0) })
    }

    /// A float32 scalar constant.
    public func constant(float v: Float) -> ONNXValue {
        constant(.float, dims: [], bytes: withUnsafeBytes(of: v) { Array($0) })
    }

    /// A float32 tensor constant.
    public func constant(floats v: [Float], dims: [Int]) -> ONNXValue {
        constant(.float, dims: dims, bytes: v.withUnsafeBytes { Array($0) })
    }

    // MARK: nodes

    /// Adds a node with one output of the given type and shape; the output is named `<name>_output_0`.
    /// `name` nil gives `/<opType>_N`.
    public func op(_ opType: String, _ inputs: [ONNXValue?], name: String?, type: ONNXElementType, shape: [ONNXDim]?,
                   attributes: [(name: String, value: ONNXAttribute)] = [], domain: String = "") -> ONNXValue {
        node(opType, inputs, name: name, outputs: [(type, shape)], attributes: attributes, domain: domain)[0]
    }

    /// Adds a node with any number of outputs (`<name>_output_K`). A nil input is an omitted optional one.
    public func node(_ opType: String, _ inputs: [ONNXValue?], name: String?, outputs: [(ONNXElementType, [ONNXDim]?)],
                     attributes: [(name: String, value: ONNXAttribute)] = [], domain: String = "") -> [ONNXValue] {
        let nodeName: String
        if let name { nodeName = name } else { nodeName = "/\(opType)_\(anonymousNodes)"; anonymousNodes += 1 }
        if !nodeNames.insert(nodeName).inserted { problems.append("node `\(nodeName)`: name used twice") }
        for case let v? in inputs where !valueNames.contains(v.name) {
            problems.append("node `\(nodeName)`: input `\(v.name)` is not a value of this graph")
        }
        let results = outputs.enumerated().map { k, o in ONNXValue(name: "\(nodeName)_output_\(k)", type: o.0, shape: o.1) }
        for r in results { claim(value: r.name, by: "node `\(nodeName)`") }
        nodes.append(ONNXNode(name: nodeName, opType: opType, domain: domain, inputs: inputs.map { $0?.name ?? "" },
                              outputs: results.map(\.name), attributes: attributes))
        return results
    }

    // MARK: model

    /// The finished model, or the first recorded misuse. Checks that every output is a value of the graph.
    public func model(irVersion: Int = ONNXModel.defaultIRVersion, opsets: [ONNXOpset] = [.default17],
                      producerName: String = "hivgkit", producerVersion: String = "", docString: String = "",
                      metadata: [String: String] = [:]) throws -> ONNXModel {
        var issues = problems
        if outputs.isEmpty { issues.append("graph `\(name)` has no output") }
        for o in outputs where !valueNames.contains(o.name) { issues.append("output `\(o.name)` is not a value of this graph") }
        if let first = issues.first {
            throw FormatError(.onnx, file: name, "\(first)" + (issues.count > 1 ? " (and \(issues.count - 1) more)" : ""))
        }
        return ONNXModel(irVersion: irVersion, opsets: opsets, producerName: producerName, producerVersion: producerVersion,
                         docString: docString, metadata: metadata, graphName: name, inputs: inputs, outputs: outputs,
                         nodes: nodes, initializers: initializers)
    }

    private func claim(value name: String, by who: String) {
        if name.isEmpty { problems.append("\(who): empty value name"); return }
        if !valueNames.insert(name).inserted { problems.append("\(who): value name `\(name)` used twice") }
    }

    private struct ConstantKey: Hashable {
        var type: ONNXElementType
        var dims: [Int]
        var bytes: [UInt8]
    }
}

/// An operator set the model imports: domain ("" is ai.onnx) and version.
public struct ONNXOpset: Hashable, Sendable, Codable {
    /// The domain; "" for the default ONNX domain.
    public var domain: String
    /// The opset version.
    public var version: Int

    /// An opset import.
    public init(domain: String, version: Int) {
        self.domain = domain
        self.version = version
    }

    /// ai.onnx opset 17: LayerNormalization is native from here on.
    public static let default17 = ONNXOpset(domain: "", version: 17)
    /// ONNX Runtime's contrib ops (fused attention, GELU), for graphs that use them.
    public static let microsoft1 = ONNXOpset(domain: "com.microsoft", version: 1)
}

/// A whole model ready to write: header fields, metadata and the graph.
public struct ONNXModel: Sendable {
    /// IR version 8 is the one that came with opset 17 (onnx 1.12); every runtime supporting opset 17 reads it.
    public static let defaultIRVersion = 8

    /// `ModelProto.ir_version`.
    public var irVersion: Int
    /// Opset imports, written in this order.
    public var opsets: [ONNXOpset]
    /// `producer_name`.
    public var producerName: String
    /// `producer_version`.
    public var producerVersion: String
    /// `doc_string` ("" writes none).
    public var docString: String
    /// `metadata_props`, written sorted by key (UTF-8 bytes).
    public var metadata: [String: String]
    /// `graph.name`.
    public var graphName: String
    /// Graph inputs.
    public var inputs: [ONNXValue]
    /// Graph outputs.
    public var outputs: [ONNXValue]
    /// Nodes in order.
    public var nodes: [ONNXNode]
    /// Initializers in order.
    public var initializers: [ONNXInitializer]
}
