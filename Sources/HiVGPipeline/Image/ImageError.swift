/// Why a photo could not be decoded or letterboxed; every case names the file.
public enum ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be read from disk.
    case unreadable(file: String, reason: String)
    /// Neither a JPEG nor a PNG signature.
    case unknownFormat(file: String)
    /// The data ends before the image does.
    case truncated(file: String, detail: String)
    /// The decoder refused the data (bad marker, bad checksum, bad Huffman table…).
    case corrupt(file: String, detail: String)
    /// A valid file of a kind Pillow does not open either (12-bit JPEG, 2-component JPEG…).
    case unsupported(file: String, detail: String)
    /// Width × height is zero or above the pixel budget: refused before any pixel buffer is allocated.
    case dimensions(file: String, width: Int, height: Int, limit: Int)
    /// The long-side resize rounds a side to zero pixels (Pillow refuses such a resize too).
    case degenerateResize(file: String, width: Int, height: Int, size: Int)
    /// The decoder ran out of memory.
    case outOfMemory(file: String)

    public var description: String {
        switch self {
        case let .unreadable(f, r): return "\(f): cannot read: \(r)"
        case let .unknownFormat(f): return "\(f): not a JPEG or PNG file"
        case let .truncated(f, d): return "\(f): truncated: \(d)"
        case let .corrupt(f, d): return "\(f): corrupt: \(d)"
        case let .unsupported(f, d): return "\(f): unsupported: \(d)"
        case let .dimensions(f, w, h, limit):
            return "\(f): \(w)×\(h) pixels " + (w == 0 || h == 0 ? "is empty" : "exceeds the limit of \(limit) pixels")
        case let .degenerateResize(f, w, h, size):
            return "\(f): a \(w)×\(h) image resized to a long side of \(size) has a side of 0 pixels"
        case let .outOfMemory(f): return "\(f): out of memory while decoding"
        }
    }
}
