/// A module's place in the canonical namespace (`clip.vision_model.encoder.layers.5.self_attn.q_proj`),
/// built from typed components. `description` is the one place a path becomes a string: everything
/// else composes paths, so a canonical name is never spelled by concatenation.
public struct ModulePath: Hashable, Sendable, CustomStringConvertible {
    /// One dotted component: a module's attribute name or an index into a module list.
    public enum Component: Hashable, Sendable {
        case name(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    /// The empty path (the model itself).
    public static let root = ModulePath(components: [])

    public init(components: [Component]) { self.components = components }

    /// The child attribute `name` (`path("encoder")`).
    public func callAsFunction(_ name: String) -> ModulePath { ModulePath(components: components + [.name(name)]) }

    /// The child at `index` of a module list (`layers[5]`).
    public subscript(index: Int) -> ModulePath { ModulePath(components: components + [.index(index)]) }

    /// A tensor (parameter or buffer) of this module.
    public func tensor(_ leaf: String) -> TensorPath { TensorPath(module: self, leaf: leaf) }

    /// `weight` of this module.
    public var weight: TensorPath { tensor("weight") }
    /// `bias` of this module.
    public var bias: TensorPath { tensor("bias") }

    /// The canonical dotted name.
    public var description: String {
        components.map { c in
            switch c {
            case let .name(n): return n
            case let .index(i): return String(i)
            }
        }.joined(separator: ".")
    }
}

/// A tensor's canonical name: its module and the leaf (`weight`, `bias`, `in_proj_weight`, …).
public struct TensorPath: Hashable, Sendable, CustomStringConvertible {
    public var module: ModulePath
    public var leaf: String

    /// The canonical name (`clip.text_model.final_layer_norm.weight`).
    public var description: String {
        module.components.isEmpty ? leaf : "\(module).\(leaf)"
    }
}

extension ModulePath {
    /// The module of a linear layer's weight, when `name` is `<module>.weight` (LoRA and merge code
    /// key linears by module).
    public static func linearModule(ofWeight name: String) -> String? {
        name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : nil
    }
}
