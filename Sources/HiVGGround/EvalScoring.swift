import Foundation
import HiVGFormats
import HiVGPipeline

/// HiVG's box scoring (utils/eval_utils.py `trans_vg_eval_test`, utils/box_utils.py `bbox_iou`), in float32
/// as torch computes it there: the ground truth mapped into the canvas by the eval transform, the
/// prediction clamped to [0, 1], IoU ≥ 0.5 counted correct.
public enum EvalScoring {
    /// A ground-truth box [x1, y1, x2, y2] in the photo's pixels as the eval transform leaves it: times
    /// ratio (RandomResize), plus (left, top) (NormalizeAndPad), then (cx, cy, w, h) divided by the canvas
    /// side (xyxy2xywh, / [w, h, w, h]) — float32 tensors, as datasets/transforms.py holds the box.
    /// (HiVG's data loader first truncates its annotation boxes to integers; given integer boxes the
    /// numbers are the same.)
    public static func canvasBox(_ box: [Double], geometry g: LetterboxGeometry) -> [Float] {
        // torch: a float32 tensor times a Python float is computed in float32 with the scalar rounded to it.
        let r = Float(g.ratio)
        var b = box.map { Float($0) * r }
        b[0] += Float(g.left); b[2] += Float(g.left)
        b[1] += Float(g.top); b[3] += Float(g.top)
        let s = Float(g.size)
        return [(b[0] + b[2]) / 2 / s, (b[1] + b[3]) / 2 / s, (b[2] - b[0]) / s, (b[3] - b[1]) / s]
    }

    /// IoU of a predicted and a ground-truth (cx, cy, w, h) box, both in canvas units: xywh2xyxy on both,
    /// the prediction's corners clamped to [0, 1], bbox_iou with its 1e-16 in the denominator.
    public static func iou(predicted p: [Float], truth t: [Float]) -> Float {
        func corners(_ b: [Float]) -> [Float] {
            [b[0] - 0.5 * b[2], b[1] - 0.5 * b[3], b[0] + 0.5 * b[2], b[1] + 0.5 * b[3]]
        }
        let a = corners(p).map { min(max($0, 0), 1) }
        let g = corners(t)
        let iw = max(min(a[2], g[2]) - max(a[0], g[0]), 0)
        let ih = max(min(a[3], g[3]) - max(a[1], g[1]), 0)
        let inter = iw * ih
        let areaA = (a[2] - a[0]) * (a[3] - a[1])
        let areaG = (g[2] - g[0]) * (g[3] - g[1])
        // 1e-16 is below float32's resolution next to any real area: as in torch, it only keeps 0/0 finite.
        return inter / (areaA + areaG - inter + 1e-16)
    }

    /// HiVG's threshold: `iou >= 0.5`.
    public static func isCorrect(_ iou: Float) -> Bool { iou >= 0.5 }
}

/// One scored line of an evaluation (also a line of its per-line results file).
public struct EvalLineResult: Codable, Sendable, Equatable {
    /// The line's position in the annotations file, from 0.
    public let index: Int
    /// The image as the line gave it.
    public let image: String?
    /// The expression.
    public let text: String?
    /// The ground truth in the photo's pixels.
    public let gtBox: [Double]?
    /// The predicted box in the photo's pixels.
    public let box: [Double]?
    /// The model's (cx, cy, w, h).
    public let predBox: [Double]?
    /// IoU in the canvas (HiVG's float32 value).
    public let iou: Double?
    /// IoU ≥ 0.5.
    public let correct: Bool?
    /// Why the line was not scored.
    public let error: String?

    enum CodingKeys: String, CodingKey {
        case index, image, text, box, iou, correct, error
        case gtBox = "gt_box", predBox = "pred_box"
    }

    /// Scores a batch outcome of an annotations line.
    public init(_ o: BatchOutcome) {
        index = o.line.index; image = o.line.image; text = o.line.text; gtBox = o.line.box
        switch o.result {
        case let .success(r):
            let truth = EvalScoring.canvasBox(o.line.box ?? [0, 0, 0, 0], geometry: r.geometry)
            let v = EvalScoring.iou(predicted: r.predBox.map { Float($0) }, truth: truth)
            box = r.box; predBox = r.predBox; iou = Double(v); correct = EvalScoring.isCorrect(v); error = nil
        case let .failure(f):
            box = nil; predBox = nil; iou = nil; correct = nil; error = f.message
        }
    }
}

/// Accuracy and mean IoU over scored lines (failed lines are counted apart, not as misses).
public struct EvalSummary: Codable, Sendable, Equatable {
    /// Lines scored.
    public let count: Int
    /// Lines with IoU ≥ 0.5.
    public let correct: Int
    /// correct / count (0 when nothing was scored).
    public let accuracy: Double
    /// Mean of the lines' IoU (in double over the float32 values).
    public let meanIoU: Double
    /// Lines that could not be scored (bad line, image or forward pass).
    public let failed: Int

    enum CodingKeys: String, CodingKey {
        case count, correct, accuracy, failed
        case meanIoU = "mean_iou"
    }

    /// The summary of some lines; throws on an index seen twice (overlapping shards).
    public init(_ lines: [EvalLineResult], source: String = "results") throws {
        var seen = Set<Int>(), count = 0, correct = 0, failed = 0, sum = 0.0
        for l in lines {
            guard seen.insert(l.index).inserted else {
                throw GroundingError.badFile(file: source, detail: "line index \(l.index) appears twice (overlapping shards?)")
            }
            if let v = l.iou, let c = l.correct {
                count += 1; sum += v
                if c { correct += 1 }
            } else {
                failed += 1
            }
        }
        self.count = count; self.correct = correct; self.failed = failed
        accuracy = count == 0 ? 0 : Double(correct) / Double(count)
        meanIoU = count == 0 ? 0 : sum / Double(count)
    }

    /// Reads per-line result files (JSON lines as `eval -o` writes them), in any shard split. Each line is
    /// read strictly (a key given twice is refused) and checked: `index` ≥ 0, `iou` in [0, 1], and
    /// `correct` as HiVG's threshold says for that `iou` (a hand-edited or foreign line would otherwise
    /// change the accuracy silently). Errors name the file, the line (blank lines counted) and the value.
    public static func lines(fromResultFiles paths: [String]) throws -> [EvalLineResult] {
        var all: [EvalLineResult] = []
        for path in paths {
            let data = try QueryFile.readFile(path)
            for (n, bytes) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !bytes.isEmpty {
                func bad(_ detail: String) -> GroundingError { .badLine(file: path, line: n + 1, detail: detail) }
                let l: EvalLineResult
                do { l = try StrictJSONDecoder().decode(EvalLineResult.self, from: Data(bytes)) } catch let e as StrictJSONError {
                    throw bad("not an eval result line: \(e)")
                }
                guard l.index >= 0 else { throw bad("`index` = \(l.index): must be non-negative") }
                switch (l.iou, l.correct, l.error) {
                case let (iou?, correct?, _):
                    guard (0 ... 1).contains(iou) else { throw bad("`iou` = \(iou): must be within [0, 1]") }
                    guard correct == (iou >= 0.5) else {
                        throw bad("`correct` = \(correct) but `iou` = \(iou) is \(correct ? "below" : "at or above") HiVG's threshold 0.5")
                    }
                case (nil, nil, _?):
                    break
                default:
                    throw bad("not an eval result line (index, iou and correct, or error)")
                }
                all.append(l)
            }
        }
        return all.sorted { $0.index < $1.index }
    }
}
