import Foundation
import HiVGCore
import HiVGFormats

/// One file of a release, relative to its folder.
public struct ReleaseFileRecord: Codable, Equatable, Sendable {
    /// Relative to the release folder.
    public var path: String
    public var bytes: Int
    /// 64 lower-case hex digits.
    public var sha256: String
    public init(path: String, bytes: Int, sha256: String) { self.path = path; self.bytes = bytes; self.sha256 = sha256 }
}

/// The settings one output was made with: a change to any of them redoes that output only.
public struct ReleaseItemSettings: Codable, Equatable, Sendable {
    public var format: String
    public var encoding: String
    /// The scheme or plain dtype the format wrote the entry as (`ReleaseEncoding.encoding(for:)`).
    public var scheme: String?
    public var dtype: String?
    public var layout: String
    public var verifySamples: Int
    public var modelOptions: [String: String]
    public var tool: String

    public init(format: String, encoding: String, scheme: String?, dtype: String?, layout: String, verifySamples: Int,
                modelOptions: [String: String], tool: String) {
        self.format = format; self.encoding = encoding; self.scheme = scheme; self.dtype = dtype; self.layout = layout
        self.verifySamples = verifySamples; self.modelOptions = modelOptions; self.tool = tool
    }

    enum CodingKeys: String, CodingKey {
        case format, encoding, scheme, dtype, layout, tool
        case verifySamples = "verify_samples"
        case modelOptions = "model_options"
    }

    /// Names of the settings that differ from `other` (empty: the same).
    public func differences(from other: ReleaseItemSettings) -> [String] {
        var d: [String] = []
        if format != other.format { d.append("format") }
        if encoding != other.encoding || scheme != other.scheme || dtype != other.dtype { d.append("encoding") }
        if layout != other.layout { d.append("layout") }
        if verifySamples != other.verifySamples { d.append("verify_samples") }
        for k in Set(modelOptions.keys).union(other.modelOptions.keys).sorted() where modelOptions[k] != other.modelOptions[k] {
            d.append("model option \(k)")
        }
        if tool != other.tool { d.append("tool") }
        return d
    }
}

/// The verification figures of one output (`WriteVerification`: merged weights as a reader gets them
/// back against the unmerged source, synthetic inputs, seed 0).
public struct ReleaseVerification: Codable, Equatable, Sendable {
    /// Within the gate (an output outside it is not written, so recorded ones pass).
    public var pass: Bool
    /// Synthetic samples run (seed 0).
    public var samples: Int
    /// The NMSE gate of the plan's loosest encoding (`WriteVerification.gate`).
    public var gateNMSE: Double
    /// Worst NMSE over the gated outputs.
    public var worstNMSE: Double
    /// Lowest cosine similarity over the gated outputs.
    public var minCosine: Double
    /// Lowest IoU between predicted boxes (HiVG models; nil for a plain CLIP).
    public var predBoxMinIoU: Double?

    enum CodingKeys: String, CodingKey {
        case pass, samples
        case gateNMSE = "gate_nmse"
        case worstNMSE = "worst_nmse"
        case minCosine = "min_cosine"
        case predBoxMinIoU = "pred_box_min_iou"
    }

    /// The figures a verification recorded in the output's provenance.
    public init(figures f: [String: Double], pass: Bool) {
        self.pass = pass
        samples = Int(f["verify_samples"] ?? 0)
        gateNMSE = f["verify_gate_nmse"] ?? 0
        worstNMSE = f["verify_worst_nmse"] ?? 0
        minCosine = f["verify_min_cosine"] ?? 0
        predBoxMinIoU = f["verify_pred_box_min_iou"]
    }
}

/// One output of a release as written: where, its files with their hashes, what it was made from
/// and with, and its verification.
public struct ReleaseItemRecord: Codable, Equatable, Sendable {
    public var model: String
    public var format: String
    public var encoding: String
    /// The output (a file, or a folder for hf-hivg), relative to the release folder.
    public var path: String
    /// The file whose SHA-256 the README's table gives (the weights of a folder).
    public var primary: String
    public var files: [ReleaseFileRecord]
    /// Every checkpoint of the run, by file name, with its SHA-256.
    public var sources: [Provenance.Source]
    public var settings: ReleaseItemSettings
    public var verification: ReleaseVerification

    public init(model: String, format: String, encoding: String, path: String, primary: String, files: [ReleaseFileRecord],
                sources: [Provenance.Source], settings: ReleaseItemSettings, verification: ReleaseVerification) {
        self.model = model; self.format = format; self.encoding = encoding; self.path = path; self.primary = primary
        self.files = files; self.sources = sources; self.settings = settings; self.verification = verification
    }

    /// Bytes of all its files.
    public var bytes: Int { files.reduce(0) { $0 + $1.bytes } }
    /// The SHA-256 the README gives.
    public var sha256: String { files.first { $0.path == primary }?.sha256 ?? "" }
    /// The key a re-run finds it by.
    public var key: ReleaseItemKey { ReleaseItemKey(model: model, format: format, encoding: encoding) }
}

/// Model × format × scheme: what identifies one output of a release.
public struct ReleaseItemKey: Hashable, Sendable {
    public var model: String
    public var format: String
    public var encoding: String
}

/// One checkpoint of a released model's run.
public struct ReleaseStageRecord: Codable, Equatable, Sendable {
    public var file: String
    /// `stage 3`, `base CLIP`, `stage 2 (by position)`.
    public var stage: String
    public var bytes: Int
    public var sha256: String

    public init(file: String, stage: String, bytes: Int, sha256: String) {
        self.file = file; self.stage = stage; self.bytes = bytes; self.sha256 = sha256
    }
}

/// One model of a release: its name and its run's checkpoints.
public struct ReleaseModelRecord: Codable, Equatable, Sendable {
    public var name: String
    public var architecture: String
    public var dataset: String?
    public var stages: [ReleaseStageRecord]

    public init(name: String, architecture: String, dataset: String?, stages: [ReleaseStageRecord]) {
        self.name = name; self.architecture = architecture; self.dataset = dataset; self.stages = stages
    }
}

/// A model × format × scheme combination that the format cannot hold, with the reason.
public struct ReleaseNotApplicable: Codable, Equatable, Sendable {
    public var model: String
    public var format: String
    public var encoding: String
    public var reason: String

    public init(model: String, format: String, encoding: String, reason: String) {
        self.model = model; self.format = format; self.encoding = encoding; self.reason = reason
    }
}

/// `release.json`: everything the README, `SHA256SUMS` and a re-run need, and nothing that changes
/// between two runs of the same inputs and settings (no timings; the date only when given).
public struct ReleaseManifest: Codable, Equatable, Sendable {
    /// The manifest's own layout version.
    public static let currentVersion = 1
    /// The manifest's name in the release folder.
    public static let fileName = "release.json"

    /// `currentVersion` when written by this tool.
    public var version = currentVersion
    /// `hivgkit 0.1.0`.
    public var tool: String
    /// `--date`, only when given.
    public var date: String?
    /// The released models in the order given.
    public var models: [ReleaseModelRecord]
    /// The outputs in plan order (model, format, scheme).
    public var items: [ReleaseItemRecord]
    /// Combinations not written, with the format's reason.
    public var notApplicable: [ReleaseNotApplicable]

    public init(tool: String, date: String?, models: [ReleaseModelRecord], items: [ReleaseItemRecord], notApplicable: [ReleaseNotApplicable]) {
        self.tool = tool; self.date = date; self.models = models; self.items = items; self.notApplicable = notApplicable
    }

    enum CodingKeys: String, CodingKey {
        case version, tool, date, models, items
        case notApplicable = "not_applicable"
    }

    /// The manifest's text (sorted keys, two-space indent, floats kept floats).
    public func rendered() throws -> String {
        try JSONValueEncoder().encode(self).rendered(pretty: true) + "\n"
    }

    /// The manifest in `dir`, nil when there is none; one that does not parse, or is of another
    /// version, is refused naming the file (a release folder is not overwritten on a guess).
    public static func read(in dir: String) throws -> ReleaseManifest? {
        let path = (dir as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw ReleaseError.data("\(path): cannot read it") }
        let m: ReleaseManifest
        // Strictly: a manifest with a key twice (hand-edited) is refused, not read as its first value.
        do { m = try StrictJSONDecoder().decode(ReleaseManifest.self, from: data) } catch {
            throw ReleaseError.data("\(path): not a release manifest of this tool (\(error)); move it away to release into this folder")
        }
        guard m.version == currentVersion else {
            throw ReleaseError.data("\(path): manifest version \(m.version), this tool writes \(currentVersion)")
        }
        for item in m.items {
            for p in [item.path] + item.files.map(\.path) where !isInside(p, model: item.model) {
                throw ReleaseError.data("\(path): output path `\(p)` is not inside the folder of model \(item.model) (a re-run removes "
                                        + "and replaces recorded files, so the manifest may name nothing else)")
            }
        }
        return m
    }

    /// Whether `p` is a plain relative path inside the model's folder: `model/…`, no `.`, `..` or
    /// empty components, not absolute.
    static func isInside(_ p: String, model: String) -> Bool {
        let parts = p.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count >= 2 && parts[0] == Substring(model) && model != "." && model != ".."
            && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }
}
