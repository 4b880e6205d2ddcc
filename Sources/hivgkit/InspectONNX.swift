import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HiVGCore
import HiVGFormats

/// `hivgkit inspect model.onnx`: header, graph interface, initializers, op counts and metadata.
struct InspectONNX {
    var path: String
    var json: Bool
    var tensors: Bool
    var filter: String?
    var hash: Bool

    func run() throws {
        try reportingErrors {
            let model = try ONNXModelFile(path: path)
            var summary = ONNXSummary(model.info, tensors: tensors)
            if let filter { summary.tensors = summary.tensors?.filter { fnmatch(filter, $0.name, 0) == 0 } }
            if hash, let list = summary.tensors {
                summary.tensors = try list.map { t in
                    var t = t
                    t.sha256 = SHA256.hex(try model.initializerBytes(t.name))
                    return t
                }
            }
            if json {
                try printJSON(report: summary)
            } else {
                print(text(summary))
            }
        }
    }

    private func text(_ s: ONNXSummary) -> String {
        var lines = ["\(s.file): onnx (IR version \(s.irVersion), "
            + s.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain) opset \($0.version)" }.joined(separator: ", ") + ")"]
        lines.append("producer: \(s.producerName)" + (s.producerVersion.isEmpty ? "" : " \(s.producerVersion)") + ", graph `\(s.graphName)`")
        func value(_ v: ONNXValueInfo) -> String {
            "  \(v.name)  \(v.type)" + (v.shape.map { " [" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "")
        }
        lines.append("")
        lines.append("inputs:")
        lines += s.inputs.map(value)
        lines.append("outputs:")
        lines += s.outputs.map(value)
        lines.append("")
        lines.append("\(s.initializerCount) initializers, \(ReportText.bytes(s.initializerBytes))"
            + (s.externalDataFiles.isEmpty ? "" : " (external data: " + s.externalDataFiles.joined(separator: ", ") + ")"))
        lines.append("\(s.nodeCount) nodes: " + s.opCounts.map { "\($0.op) ×\($0.count)" }.joined(separator: ", "))
        if !s.metadata.isEmpty {
            lines.append("")
            lines.append("metadata:")
            for e in s.metadata { lines.append("  \(e.key): \(e.value.count > 120 ? String(e.value.prefix(119)) + "…" : e.value)") }
        }
        if let list = s.tensors {
            lines.append("")
            let w = min(90, list.map(\.name.count).max() ?? 0)
            for t in list {
                let place = t.storage == .external ? "\(t.externalFile ?? "")@\(t.externalOffset ?? 0)+\(t.externalLength ?? 0)" : t.storage.rawValue
                lines.append("  " + t.name.padding(toLength: w, withPad: " ", startingAt: 0) + "  "
                    + t.type.padding(toLength: 8, withPad: " ", startingAt: 0) + " \(t.dims)  " + place + (t.sha256.map { "  " + $0 } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}
