import HiVGCore

/// Every failure of a reader or writer: what went wrong and where (file, zip entry, byte offset,
/// tensor). `kind` is a stable spelling that tests and `--json` output use.
public struct FormatError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case unknownFormat = "unknown-format"
        case io
        case zip
        case missingStorage = "missing-storage"
        case viewOutOfBounds = "view-out-of-bounds"
        case storageSizeMismatch = "storage-size-mismatch"
        case shapeOverflow = "shape-overflow"
        case invalidTensor = "invalid-tensor"
        case forbiddenCall = "forbidden-call"
        case inflateSizeMismatch = "inflate-size-mismatch"
        case pickleMalformed = "pickle-malformed"
        case pickleLimit = "pickle-limit"
        case truncated
        case unsupported
        case noStateDict = "no-state-dict"
        case safetensorsHeaderTooLarge = "safetensors-header-too-large"
        case safetensorsHeader = "safetensors-header"
        case safetensorsOverlap = "safetensors-overlap"
        case safetensorsGap = "safetensors-gap"
        case safetensorsDuplicate = "safetensors-duplicate"
        case safetensorsTruncated = "safetensors-truncated"
        case safetensorsSize = "safetensors-size"
        case onnx
        case onnxExternalData = "onnx-external-data"
    }

    public var kind: Kind
    public var file: String
    public var entry: String?
    public var offset: Int?
    public var tensor: String?
    public var message: String
    /// The global a refused call named, as `module.name`.
    public var global: String?

    public init(_ kind: Kind, file: String, entry: String? = nil, offset: Int? = nil, tensor: String? = nil,
                global: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.entry = entry
        self.offset = offset
        self.tensor = tensor
        self.global = global
        self.message = message
    }

    public var description: String {
        var parts = [file]
        if let entry { parts.append("entry \(entry)") }
        if let offset { parts.append("offset \(offset)") }
        if let tensor { parts.append("tensor `\(tensor)`") }
        return parts.joined(separator: ": ") + ": " + message
    }

    /// Re-labels a core error (bounds, overflow) with the file it came from.
    public static func from(_ error: CoreError, file: String, entry: String? = nil) -> FormatError {
        switch error {
        case let .viewOutOfBounds(t, _, _):
            return FormatError(.viewOutOfBounds, file: file, entry: entry, tensor: t, error.detail)
        case let .shapeOverflow(t, _):
            return FormatError(.shapeOverflow, file: file, entry: entry, tensor: t, error.detail)
        case let .invalidGeometry(t, _), let .valueOutOfRange(t, _):
            return FormatError(.invalidTensor, file: file, entry: entry, tensor: t, error.detail)
        case let .unsupportedConversion(t, _, _):
            return FormatError(.unsupported, file: file, entry: entry, tensor: t, error.detail)
        case let .io(path, detail) where path == file:
            return FormatError(.io, file: file, entry: entry, detail)
        case .storageUnavailable, .io:
            return FormatError(.io, file: file, entry: entry, error.description)
        }
    }
}
