/// Errors of the text pipeline: a vocabulary or entity table that cannot be read.
public enum TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The BPE merges file is not the gzip text CLIP's tokenizer reads (offset into the file or,
    /// past the header, into its inflated text).
    case badVocabulary(source: String, offset: Int, detail: String)
    /// The HTML5 entity table is not a JSON object of strings.
    case badEntityTable(source: String, detail: String)

    /// A stable short name of the case (for `--json` reports and tests).
    public var kind: String {
        switch self {
        case .badVocabulary: return "bad-vocabulary"
        case .badEntityTable: return "bad-entity-table"
        }
    }

    public var description: String {
        switch self {
        case let .badVocabulary(source, offset, detail): return "\(source): offset \(offset): \(detail)"
        case let .badEntityTable(source, detail): return "\(source): \(detail)"
        }
    }
}
