/// A failure to read, verify or write a native `.hivgw` file: each way a file can be damaged has its
/// own `kind` (a stable spelling for tests and `--json`), with the tensor and byte offset where known.
/// I/O failures (open, mmap, write) are `FormatError(.io)` as for every other format.
public struct NativeFormatError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The first 8 bytes are not the magic (or are the magic mangled by a text-mode transfer).
        case badMagic = "native-magic"
        /// A header version this reader does not know.
        case badVersion = "native-version"
        /// The file ends before the header, or before the end of the data region the manifest declares.
        case truncated = "native-truncated"
        /// The manifest length runs past the end of the file, or over `NativeFormat.maxManifestLength`.
        case manifestBounds = "native-manifest-bounds"
        /// The manifest bytes do not match the CRC-32C in the header.
        case manifestChecksum = "native-manifest-checksum"
        /// The manifest is not a valid protobuf `Manifest`, or holds invalid values (unknown dtype,
        /// duplicate or empty names, negative dimensions, missing checksum, wrong alignment…).
        case manifestInvalid = "native-manifest"
        /// Bytes after the end of the data region.
        case trailingBytes = "native-trailing-bytes"
        /// A tensor's offset + length lies outside the data region.
        case outOfRange = "native-out-of-range"
        /// A tensor's offset is not a multiple of the alignment.
        case misaligned = "native-misaligned"
        /// Two tensors share bytes.
        case overlap = "native-overlap"
        /// Bytes between tensors that are more than the alignment padding (covered by no tensor).
        case gap = "native-gap"
        /// A tensor's length is not what its shape, dtype and encoding give.
        case length = "native-length"
        /// A tensor's bytes do not match its CRC-32C (`verify`, `hivgkit check`).
        case checksum = "native-checksum"
        /// Padding bytes that should be zero are not (`verify`).
        case padding = "native-padding"
        /// Writer calls out of order (header → manifest → tensors in manifest order → finish).
        case writerState = "native-writer-state"
        /// Input the writer cannot encode (duplicate names, NUL in a string, a payload of the wrong size…).
        case writerInput = "native-writer-input"
    }

    public var kind: Kind
    public var file: String
    public var offset: Int?
    public var tensor: String?
    public var message: String

    public init(_ kind: Kind, file: String, offset: Int? = nil, tensor: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        var parts = [file]
        if let offset { parts.append("offset \(offset)") }
        if let tensor { parts.append("tensor `\(tensor)`") }
        return parts.joined(separator: ": ") + ": " + message
    }
}
