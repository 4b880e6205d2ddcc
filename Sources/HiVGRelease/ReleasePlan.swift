import Foundation
import HiVGCore
import HiVGFormats
import HiVGModel

/// What a release does with one model × format × scheme combination.
public struct ReleasePlanEntry: Codable, Equatable, Sendable {
    public enum Action: String, Codable, Sendable {
        /// Written (new, or its source, settings or files changed: `reason` says which).
        case write
        /// Its recorded source hashes, settings and files match: left alone.
        case upToDate = "up-to-date"
        /// The format cannot hold the scheme (`reason`).
        case notApplicable = "not-applicable"
    }

    public var model: String
    public var format: String
    public var encoding: String
    /// Relative to the release folder (empty when not applicable).
    public var path: String
    public var action: Action
    /// Why: `new`, `source changed: …`, `settings changed: …`, `missing: …`, the format's refusal.
    public var reason: String

    /// How messages name it: its path, or model × format × scheme when it has none.
    public var label: String { path.isEmpty ? "\(model) \(format) \(encoding)" : path }
    /// The key the manifest records it by.
    public var key: ReleaseItemKey { ReleaseItemKey(model: model, format: format, encoding: encoding) }
}

/// The plan of a release: every combination with its action, and the outputs of an earlier release
/// that the settings no longer ask for (removed).
public struct ReleasePlan: Codable, Equatable, Sendable {
    /// Models × formats × schemes, in that order.
    public var entries: [ReleasePlanEntry]
    /// Outputs recorded by the previous run that this one does not make, by path.
    public var removed: [String]

    /// Entries to write.
    public var writes: [ReleasePlanEntry] { entries.filter { $0.action == .write } }

    /// The output path of `model` as `format` in `encoding`, relative to the release folder:
    /// `stage3-unc/stage3-unc-q8_0.gguf`, or the folder `stage3-unc/stage3-unc-f32-hf-hivg`.
    public static func path(model: String, format: OutputFormat, encoding: ReleaseEncoding) -> String {
        let stem = "\(model)-\(encoding.token)"
        let name = ReleaseFiles.isFolder(format) ? "\(stem)-\(format.rawValue)" : "\(stem).\(format.writer.extensions.first ?? format.rawValue)"
        return (model as NSString).appendingPathComponent(name)
    }

    /// The settings an output of `format` in `encoding` is made with.
    public static func settings(_ s: ReleaseSettings, format: OutputFormat, encoding: ReleaseEncoding,
                                written: (scheme: QuantScheme?, dtype: DType?)) -> ReleaseItemSettings {
        ReleaseItemSettings(format: format.rawValue, encoding: encoding.token, scheme: written.scheme?.rawValue,
                            dtype: written.dtype?.rawValue.lowercased(), layout: OutputLayout.canonical.rawValue,
                            verifySamples: s.verifySamples, modelOptions: s.modelOptions, tool: s.tool)
    }

    /// Plans `models` × the settings' formats × schemes against the previous manifest: an output whose
    /// recorded sources, settings and files (size and SHA-256, checked on disk) all match is up to
    /// date; anything else is written, with the reason.
    public static func make(models: [ReleaseModelRecord], settings s: ReleaseSettings, previous: ReleaseManifest?,
                            in dir: String) throws -> ReleasePlan {
        let old = Dictionary((previous?.items ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var entries: [ReleasePlanEntry] = []
        for m in models {
            let sources = m.stages.map { Provenance.Source(file: $0.file, bytes: $0.bytes, sha256: $0.sha256) }
            for f in s.formats {
                for e in s.encodings {
                    var entry = ReleasePlanEntry(model: m.name, format: f.rawValue, encoding: e.token, path: "", action: .write, reason: "")
                    switch e.encoding(for: f) {
                    case let .failure(skip):
                        entry.action = .notApplicable
                        entry.reason = skip.reason
                    case let .success(written):
                        entry.path = path(model: m.name, format: f, encoding: e)
                        let why = try staleness(old[entry.key], sources: sources, settings: settings(s, format: f, encoding: e, written: written),
                                                path: entry.path, in: dir, useCache: s.useHashCache)
                        entry.action = why == nil ? .upToDate : .write
                        entry.reason = why ?? "recorded sources, settings and files match"
                    }
                    entries.append(entry)
                }
            }
        }
        let planned = Set(entries.filter { $0.action != .notApplicable }.map(\.key))
        let removed = (previous?.items ?? []).filter { !planned.contains($0.key) }.map(\.path)
        return ReleasePlan(entries: entries, removed: removed)
    }

    /// Why the recorded output must be written again, or nil when it is up to date.
    static func staleness(_ r: ReleaseItemRecord?, sources: [Provenance.Source], settings: ReleaseItemSettings, path: String,
                          in dir: String, useCache: Bool) throws -> String? {
        guard let r else { return "new" }
        if r.sources != sources {
            let changed = sources.filter { !r.sources.contains($0) }.map(\.file) + r.sources.filter { !sources.contains($0) }.map(\.file)
            return "source changed: " + Array(Set(changed)).sorted().joined(separator: ", ")
        }
        let d = settings.differences(from: r.settings)
        if !d.isEmpty { return "settings changed: " + d.joined(separator: ", ") }
        if r.path != path { return "path changed" }
        for f in r.files {
            let full = (dir as NSString).appendingPathComponent(f.path)
            guard ReleaseFiles.isRegularFile(full) else { return "missing: \(f.path)" }
            if try ReleaseFiles.record(f.path, relativeTo: dir, useCache: useCache) != f { return "changed on disk: \(f.path)" }
        }
        return nil
    }
}
