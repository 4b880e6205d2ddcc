import HiVGFormats

/// How a command reads its checkpoints: read options, config overrides (head counts, `--config`, …)
/// and the base weights under an adapter folder. Lets the surgery layer load models without naming the
/// format layer's types.
public struct ModelSource: Sendable {
    public var read: ReadOptions
    public var overrides: ConfigOverrides
    /// Base weights under a PEFT adapter folder.
    public var base: String?

    public init(read: ReadOptions = ReadOptions(), overrides: ConfigOverrides = ConfigOverrides(), base: String? = nil) {
        self.read = read
        self.overrides = overrides
        self.base = base
    }

    /// Loads `path` with these settings.
    public func load(_ path: String) throws -> LoadedModel {
        try ModelLoader.load(path, read: read, overrides: overrides, base: base)
    }
}
