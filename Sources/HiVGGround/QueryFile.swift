import Foundation
import HiVGCore
import HiVGFormats

/// `--shard I/N`: line j (counted from 0) belongs to shard (j mod N) + 1, so shards of one file are
/// disjoint, cover it, and can run on different machines.
public struct ShardSpec: Sendable, Equatable, CustomStringConvertible {
    /// 1…count.
    public let index: Int
    /// How many shards the file is split into.
    public let count: Int

    /// The whole file.
    public static let all = ShardSpec(uncheckedIndex: 1, count: 1)

    private init(uncheckedIndex: Int, count: Int) { index = uncheckedIndex; self.count = count }

    /// Parses "I/N" with 1 ≤ I ≤ N; nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1 ... n).contains(i) else { return nil }
        index = i
        count = n
    }

    /// Whether line `j` (from 0) is this shard's.
    public func contains(_ j: Int) -> Bool { j % count + 1 == index }

    public var description: String { "\(index)/\(count)" }
}

/// One line of a queries or annotations file: the query, or why the line is unusable.
public struct QueryLine: Sendable, Equatable {
    /// The line's position in the file, from 0 (blank lines count too).
    public let index: Int
    /// The image as the line gives it (nil when the line did not say).
    public let image: String?
    /// The image path resolved against the file's folder.
    public let resolvedImage: String?
    /// The expression.
    public let text: String?
    /// The ground-truth box [x1, y1, x2, y2] in the photo's pixels (annotations only).
    public let box: [Double]?
    /// Why the line cannot be run (nil for a good line).
    public let error: String?
}

/// JSON-lines files of `{"image": …, "text": …}` (and `"box"` for annotations).
public enum QueryFile {
    /// Larger files are refused before reading (a million queries take ~100 MB).
    public static let maxFileBytes = 1 << 30

    private struct Raw: Decodable {
        let image: String
        let text: String
        let box: [Double]?
    }

    /// This shard's lines of the file at `path`; with `needBox`, a line without a valid `box` is an error line.
    /// A file that cannot be read throws; a bad line becomes a `QueryLine` with `error` set.
    public static func read(path: String, shard: ShardSpec = .all, needBox: Bool = false) throws -> [QueryLine] {
        let data = try readFile(path)
        let folder = (path as NSString).deletingLastPathComponent
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends the last line
        var out: [QueryLine] = []
        for (j, bytes) in lines.enumerated() where shard.contains(j) {
            out.append(parse(Data(bytes), index: j, folder: folder, needBox: needBox))
        }
        return out
    }

    /// The file's bytes, refusing non-regular files and sizes over the limit.
    static func readFile(_ path: String) throws -> Data {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw GroundingError.badFile(file: path, detail: SystemErrorText.current)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GroundingError.badFile(file: path, detail: "not a regular file") }
        guard Int(st.st_size) <= maxFileBytes else {
            throw GroundingError.badFile(file: path, detail: "\(st.st_size) bytes exceeds the limit of \(maxFileBytes)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GroundingError.badFile(file: path, detail: "cannot read")
        }
        return data
    }

    static func parse(_ bytes: Data, index: Int, folder: String, needBox: Bool) -> QueryLine {
        func bad(_ why: String, image: String? = nil, text: String? = nil) -> QueryLine {
            QueryLine(index: index, image: image, resolvedImage: nil, text: text, box: nil, error: "line \(index + 1): \(why)")
        }
        let raw: Raw
        do {
            // Strictly (RFC 8259, no key twice): Foundation's decoder would keep the first of two
            // "text" keys and Python's json the last, so such a line would mean different queries.
            raw = try StrictJSONDecoder().decode(Raw.self, from: bytes)
        } catch let e as StrictJSONError {
            switch e.kind {
            case .duplicate:
                return bad("key \"\(e.path)\" appears twice")
            case .value where e.path.isEmpty:
                return bad("not a JSON object {\"image\": …, \"text\": …}")
            case .value:
                // Array positions as numbers (`box.0`), as the path is dotted.
                return bad(e.reason == "is missing" ? "no \"\(e.path)\"" : "\"\(e.path)\" has the wrong type (\(e.reason))")
            case .syntax:
                return bad(bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } ? "empty line" : "not a JSON object {\"image\": …, \"text\": …}")
            }
        } catch {
            return bad("not a JSON object {\"image\": …, \"text\": …}")
        }
        if raw.image.isEmpty { return bad("empty \"image\"", text: raw.text) }
        if needBox {
            guard let b = raw.box else { return bad("no \"box\"", image: raw.image, text: raw.text) }
            guard b.count == 4, b.allSatisfy(\.isFinite), b[0] <= b[2], b[1] <= b[3] else {
                return bad("\"box\" must be [x1, y1, x2, y2] with x1 ≤ x2, y1 ≤ y2", image: raw.image, text: raw.text)
            }
        }
        let resolved = raw.image.hasPrefix("/") ? raw.image : (folder as NSString).appendingPathComponent(raw.image)
        return QueryLine(index: index, image: raw.image, resolvedImage: resolved, text: raw.text, box: raw.box, error: nil)
    }
}
