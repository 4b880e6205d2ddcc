import Foundation
import HiVGCore
import HiVGModel
import HiVGSurgery

/// Compares two models' outputs on the same inputs (`hivgkit verify`, and `--verify` of the writers).
///
/// Metrics per output, with A as the reference: max abs error, mean abs error, NMSE = Σ(b−a)²/Σa²,
/// cosine of the flattened tensors; for `pred_box` also the IoU of each sample's boxes. The gate is on
/// the NMSE of the intermediates (text features, vision hidden states, VL output; for plain CLIP the
/// embeddings and hidden states): a 4-number box is too poorly conditioned to gate on alone.
public enum Verify {
    public struct Metric: Sendable {
        public var name: String
        public var count: Int
        public var maxAbs: Double
        public var meanAbs: Double
        public var nmse: Double
        public var cosine: Double
        /// Per-sample IoU of (cx, cy, w, h) boxes (pred_box only).
        public var iou: [Double]?
        /// Whether this output is gated.
        public var gated: Bool
        public var pass: Bool
    }

    public struct Report: Sendable {
        public var metrics: [Metric]
        public var maxNMSE: Double
        public var gateReason: String
        public var samples: Int
        public var pass: Bool { metrics.allSatisfy { $0.pass } }
        public var worstGated: Metric? { metrics.filter { $0.gated }.max { $0.nmse < $1.nmse } }
    }

    /// Outputs the gate looks at.
    public static func isGated(_ name: String) -> Bool {
        name == "text_features" || name == "vl_output" || name.hasPrefix("vision_hidden_") || name == "image_embeds"
            || name == "text_embeds" || name.hasPrefix("text_hidden_")
    }

    /// The NMSE bound for a model: for block-quantized weights the loosest scheme's
    /// `QuantPolicy.verifyGate`; otherwise from the least precise floating-point dtype among its weights:
    /// f32/f64 1e-10; f16/bf16 1e-4; 8-bit floats 1e-2.
    public static func defaultGate(_ m: LoadedModel) -> (nmse: Double, reason: String) {
        // Block-quantized sources: the loosest scheme's QuantPolicy.verifyGate (16·b² of its RMS bound b,
        // ≤ 1e-4 for f16/bf16; docs/quantization.md has the measurements).
        if let loosest = QuantPolicy.loosest(Set(m.encodings.values).compactMap(QuantScheme.init(rawValue:))) {
            let gate = QuantPolicy.verifyGate(loosest)
            return (gate, "\(loosest.rawValue) weights: NMSE ≤ \(gate) (QuantPolicy.verifyGate)")
        }
        var worst = DType.f32
        let rank: [DType: Int] = [.f64: 0, .f32: 0, .f16: 1, .bf16: 1, .f8e4m3: 2, .f8e5m2: 2, .f8e8m0: 2]
        for (_, t) in m.weights.entries where t.dtype.isFloatingPoint {
            if (rank[t.dtype] ?? 0) > (rank[worst] ?? 0) { worst = t.dtype }
        }
        switch rank[worst] ?? 0 {
        case 0: return (1e-10, "f32 weights: NMSE ≤ 1e-10")
        case 1: return (1e-4, "\(worst.rawValue) weights: NMSE ≤ 1e-4")
        default: return (1e-2, "\(worst.rawValue) weights: NMSE ≤ 1e-2")
        }
    }

    public static func compare(_ a: ForwardOutputs, _ b: ForwardOutputs, maxNMSE: Double, gateReason: String = "", samples: Int) -> Report {
        var metrics: [Metric] = []
        for name in a.names {
            guard let x = a[name], let y = b[name], x.values.count == y.values.count else {
                metrics.append(Metric(name: name, count: 0, maxAbs: .infinity, meanAbs: .infinity, nmse: .infinity, cosine: 0, iou: nil,
                                      gated: true, pass: false))
                continue
            }
            var maxAbs = 0.0, sumAbs = 0.0, se = 0.0, sa = 0.0, sb = 0.0, dot = 0.0
            for i in 0 ..< x.values.count {
                let u = Double(x.values[i]), v = Double(y.values[i]), d = abs(v - u)
                if d > maxAbs || d.isNaN { maxAbs = d.isNaN ? .nan : d }
                sumAbs += d; se += d * d; sa += u * u; sb += v * v; dot += u * v
            }
            let n = x.values.count
            let nmse = sa > 0 ? se / sa : (se == 0 ? 0 : .infinity)
            let cosine = sa > 0 && sb > 0 ? dot / (sa.squareRoot() * sb.squareRoot()) : (sa == sb ? 1 : 0)
            var iou: [Double]?
            if name == "pred_box" { iou = stride(from: 0, to: n, by: 4).map { boxIoU(Array(x.values[$0 ..< $0 + 4]), Array(y.values[$0 ..< $0 + 4])) } }
            let gated = isGated(name) && !x.isMask
            let finite = !maxAbs.isNaN && !nmse.isNaN
            metrics.append(Metric(name: name, count: n, maxAbs: maxAbs, meanAbs: n > 0 ? sumAbs / Double(n) : 0, nmse: nmse, cosine: cosine,
                                  iou: iou, gated: gated, pass: finite && (!gated || nmse <= maxNMSE)))
        }
        for name in b.names where a[name] == nil {
            metrics.append(Metric(name: name, count: 0, maxAbs: .infinity, meanAbs: .infinity, nmse: .infinity, cosine: 0, iou: nil,
                                  gated: true, pass: false))
        }
        return Report(metrics: metrics, maxNMSE: maxNMSE, gateReason: gateReason, samples: samples)
    }

    /// IoU of two (cx, cy, w, h) boxes.
    public static func boxIoU(_ p: [Float], _ q: [Float]) -> Double {
        func xyxy(_ b: [Float]) -> (Double, Double, Double, Double) {
            let cx = Double(b[0]), cy = Double(b[1]), w = Double(b[2]), h = Double(b[3])
            return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        }
        let a = xyxy(p), b = xyxy(q)
        let iw = max(0, min(a.2, b.2) - max(a.0, b.0)), ih = max(0, min(a.3, b.3) - max(a.1, b.1))
        let inter = iw * ih
        let union = (a.2 - a.0) * (a.3 - a.1) + (b.2 - b.0) * (b.3 - b.1) - inter
        return union > 0 ? inter / union : (inter == 0 && a == b ? 1 : 0)
    }

    /// The most synthetic samples one verification makes: all images are held at once (256 at 336 × 336
    /// are 347 MB of pixels) and the figures of a few dozen already settle a gate.
    public static let maxSyntheticSamples = 256

    /// Deterministic synthetic inputs for `config`: N images at the model's own size with a random
    /// content rectangle (values ~ U(−2, 2), zero padding outside, mask 1 there, as HiVG's
    /// NormalizeAndPad leaves it) and N token sequences `[49406] + k tokens + [49407]`, 0-padded to the
    /// text length, tokens drawn from the vocabulary rows whose embedding is not all zero.
    public static func syntheticInputs(_ m: LoadedModel, samples n: Int, seed: UInt64) throws -> ForwardInputs {
        guard (1 ... maxSyntheticSamples).contains(n) else {
            throw ForwardError.unsupported("\(n) synthetic samples: between 1 and \(maxSyntheticSamples) (all are held at once)")
        }
        let c = m.config
        var rng = SplitMix64(seed: seed)
        let size = c.imageSize, l = c.maxPositions
        var pixels = [Float](repeating: 0, count: n * 3 * size * size)
        var mask = [Bool](repeating: true, count: n * size * size)
        for b in 0 ..< n {
            let h = size / 2 + Int(rng.next() % UInt64(size / 2 + 1)), w = size / 2 + Int(rng.next() % UInt64(size / 2 + 1))
            let top = (size - h) / 2, left = (size - w) / 2
            for y in top ..< top + h {
                for x in left ..< left + w {
                    mask[(b * size + y) * size + x] = false
                    for ch in 0 ..< 3 { pixels[((b * 3 + ch) * size + y) * size + x] = rng.uniform() * 4 - 2 }
                }
            }
        }
        // Candidate tokens: rows of the token embedding that are not all zero (compressed fixtures zero
        // the unused vocabulary), never the special ids.
        var candidates: [Int] = []
        let sot = 49406, eot = 49407
        if let tok = m.weights["clip.text_model.embeddings.token_embedding.weight"] {
            let v = try tok.floats(name: "clip.text_model.embeddings.token_embedding.weight")
            let d = tok.shape[1]
            for id in 1 ..< tok.shape[0] where id != sot && id != eot {
                var nz = false
                for j in 0 ..< d where v[id * d + j] != 0 { nz = true; break }
                if nz { candidates.append(id) }
            }
        }
        if candidates.isEmpty { candidates = Array(1 ..< min(c.vocabSize, sot)) }
        let special = c.vocabSize > eot
        var ids = [Int](repeating: 0, count: n * l)
        for b in 0 ..< n {
            let k = 1 + Int(rng.next() % UInt64(max(1, l - 2)))
            var seq = special ? [sot] : []
            for _ in 0 ..< k { seq.append(candidates[Int(rng.next() % UInt64(candidates.count))]) }
            seq = Array(seq.prefix(l - (special ? 1 : 0)))
            if special { seq.append(eot) }
            for (i, t) in seq.enumerated() { ids[b * l + i] = t }
        }
        return ForwardInputs(batch: n, height: size, width: size, pixelValues: pixels, pixelMask: mask, inputIds: ids, textLength: l)
    }
}

