#if canImport(Glibc)
import Glibc
#endif
import HiVGCore

/// A model split over several safetensors files plus `model.safetensors.index.json`
/// (`{"metadata": {"total_size": n, …}, "weight_map": {tensor: shard file}}`), as transformers
/// saves large checkpoints.
public enum ShardedSafetensors {
    public static let indexFileName = "model.safetensors.index.json"

    /// Reads every shard the index names and checks both directions: each weight-map name is in its
    /// shard, each shard tensor is in the weight map under that shard, and `total_size` (when present)
    /// is the sum of the tensors' byte sizes.
    ///
    /// Graph order: shards by file name, tensors in data order within each. Metadata: the shards'
    /// `__metadata__` (first shard wins on conflicts), overlaid by the index's `metadata`, whose
    /// non-string values are kept as compact JSON text (`"total_size": "1234"`).
    public static func read(index path: String) throws -> (graph: WeightGraph, metadata: [String: String]) {
        let index = try parseIndex(path: path)
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""

        var byShard: [String: [String]] = [:]
        for (name, shard) in index.weightMap { byShard[shard, default: []].append(name) }
        let shards = byShard.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        var graph = WeightGraph()
        var shardMetadata: [String: String] = [:]
        var total = 0
        for shard in shards {
            let shardPath = dir + shard
            try requireInside(folder: dir.isEmpty ? "." : dir, shard: shardPath, index: path)
            let (part, meta) = try SafetensorsReader.read(path: shardPath)
            shardMetadata.merge(meta) { first, _ in first }
            for name in byShard[shard]! where !part.contains(name) {
                throw FormatError(.safetensorsHeader, file: shardPath, tensor: name,
                                  "listed in the weight map of \(path) but missing from this shard")
            }
            for (name, tensor) in part.entries {
                guard let listed = index.weightMap[name] else {
                    throw FormatError(.safetensorsHeader, file: shardPath, tensor: name,
                                      "tensor of this shard is not listed in the weight map of \(path)")
                }
                guard listed == shard else {
                    throw FormatError(.safetensorsDuplicate, file: shardPath, tensor: name,
                                      "tensor of this shard is listed under \(listed) in \(path)")
                }
                do {
                    try graph.add(name, tensor)
                } catch {
                    throw FormatError(.safetensorsDuplicate, file: shardPath, tensor: name, "tensor appears in two shards")
                }
                let (sum, o) = total.addingReportingOverflow(tensor.nbytes)
                if o { throw FormatError(.safetensorsSize, file: path, "total tensor size overflows") }
                total = sum
            }
        }
        if let declared = index.totalSize, declared != UInt64(total) {
            throw FormatError(.safetensorsSize, file: path,
                              "metadata.total_size is \(declared), the shards' tensors hold \(total) bytes")
        }
        var metadata = shardMetadata
        metadata.merge(index.metadata) { _, fromIndex in fromIndex }
        graph.metadata = metadata
        return (graph, metadata)
    }

    private struct Index {
        var metadata: [String: String] = [:]
        var totalSize: UInt64?
        var weightMap: [String: String] = [:]
    }

    private static func parseIndex(path: String) throws -> Index {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch let error as CoreError {
            throw FormatError.from(error, file: path)
        }
        let root: JSONValue
        do {
            root = try StrictJSON.parse(file.bytes)
        } catch let failure as JSONFailure {
            throw FormatError(failure.kind == .duplicate ? .safetensorsDuplicate : .safetensorsHeader,
                              file: path, offset: failure.offset, failure.message)
        }
        func bad(_ message: String, _ offset: Int? = nil, tensor: String? = nil) -> FormatError {
            FormatError(.safetensorsHeader, file: path, offset: offset, tensor: tensor, message)
        }
        guard case let .object(members) = root else { throw bad("index is not a JSON object", 0) }
        var index = Index()
        var sawWeightMap = false
        for member in members {
            switch (member.key, member.value) {
            case ("metadata", .null):
                break
            case let ("metadata", .object(fields)):
                for field in fields {
                    if case let .string(s) = field.value {
                        index.metadata[field.key] = s
                    } else {
                        index.metadata[field.key] = field.value.rendered
                    }
                    if field.key == "total_size" {
                        guard let size = integralValue(field.value) else {
                            throw bad("metadata.total_size is not a non-negative integer", field.offset)
                        }
                        index.totalSize = size
                    }
                }
            case let ("weight_map", .object(fields)):
                sawWeightMap = true
                for field in fields {
                    guard case let .string(shard) = field.value else {
                        throw bad("weight_map value is not a file name", field.offset, tensor: field.key)
                    }
                    guard isPlainRelative(shard) else {
                        throw bad("shard `\(shard)` is not a relative path inside the index's folder", field.offset, tensor: field.key)
                    }
                    index.weightMap[field.key] = shard
                }
            case ("metadata", _), ("weight_map", _):
                throw bad("`\(member.key)` is not an object", member.offset)
            default:
                throw bad("unexpected key `\(member.key)`", member.offset)
            }
        }
        guard sawWeightMap else { throw bad("no weight_map") }
        return index
    }

    /// A shard reached through a symbolic link must still lie inside the index's folder: a link
    /// leading elsewhere would make the folder read a file its owner never put there.
    static func requireInside(folder: String, shard: String, index: String) throws {
        guard let realFolder = realPath(folder), let realShard = realPath(shard) else { return }  // missing: the reader names it
        if !realShard.hasPrefix(realFolder == "/" ? "/" : realFolder + "/") {
            throw FormatError(.unknownFormat, file: index, "shard `\(shard)` leads outside the folder (to \(realShard))")
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The `weight_map` of a `pytorch_model.bin.index.json`, read by the strict parser (a key listed
    /// twice is refused, as in the safetensors index).
    static func binWeightMap(index path: String) throws -> [String: String] {
        try parseIndex(path: path).weightMap
    }

    /// A shard name may not escape the index's folder.
    static func isPlainRelative(_ name: String) -> Bool {
        if name.isEmpty || name.hasPrefix("/") || name.utf8.contains(0) { return false }
        return !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0.isEmpty }
    }

    /// `1234` or `1234.0` (some tools write floats); nil for anything else.
    private static func integralValue(_ value: JSONValue) -> UInt64? {
        if let v = value.unsignedInteger { return v }
        guard case let .number(text) = value, let d = Double(text), d >= 0, d < 0x1p53, d.rounded() == d else { return nil }
        return UInt64(d)
    }
}

extension SafetensorsWriter {
    /// Splits `graph` into shards of at most `maxShardBytes` of tensor data (a larger tensor gets a
    /// shard of its own), written in `order` as `<baseName>-00001-of-0000K.safetensors` in
    /// `directory`, then writes `<baseName>.safetensors.index.json` with sorted keys. Each file is
    /// atomic; the index is written last, so it only exists once every shard it names does.
    /// Returns the shard file names.
    @discardableResult
    public static func writeSharded(_ graph: WeightGraph, metadata: [String: String]? = nil, to directory: String,
                                    maxShardBytes: Int, baseName: String = "model",
                                    order: Order = .reference) throws -> [String] {
        guard maxShardBytes > 0 else {
            throw FormatError(.unsupported, file: directory, "maximum shard size must be positive")
        }
        let dir = directory.hasSuffix("/") ? directory : directory + "/"
        let planned = try plan(graph.entries, file: directory, order: order)
        var groups: [[Planned]] = [[]]
        var filled = 0
        for p in planned {
            if !groups[groups.count - 1].isEmpty && p.byteCount > maxShardBytes - filled {
                groups.append([])
                filled = 0
            }
            groups[groups.count - 1].append(p)
            filled += p.byteCount
        }
        let names = groups.indices.map { "\(baseName)-\(pad5($0 + 1))-of-\(pad5(groups.count)).safetensors" }
        let meta = effectiveMetadata(metadata ?? graph.metadata)
        var weightMap: [(String, String)] = []
        var total = 0
        for (group, name) in zip(groups, names) {
            let out = try AtomicFile(path: dir + name)
            try write(group, metadata: meta, into: out)
            try out.commit()
            for p in group { weightMap.append((p.name, name)); total += p.byteCount }
        }
        weightMap.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        var json = "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {"
        json += weightMap.map { "\n    \(StrictJSON.quote($0.0)): \(StrictJSON.quote($0.1))" }.joined(separator: ",")
        json += weightMap.isEmpty ? "}\n}\n" : "\n  }\n}\n"
        let index = try AtomicFile(path: dir + baseName + ".safetensors.index.json")
        try index.write(Array(json.utf8))
        try index.commit()
        return names
    }

    private static func pad5(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }
}
