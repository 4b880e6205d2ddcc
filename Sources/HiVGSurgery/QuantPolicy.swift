import Foundation
import HiVGCore
import HiVGModel

/// Which tensor gets which encoding: a pure function of names, shapes, dtypes and the options, returning
/// the decision table (`ExportPlan`) that `hivgkit quantize --plan` prints and `Exporter` writes.
///
/// Default rules by the tensor's kind in the model description (`ModelDescription.kind(of:)`; tensors
/// the model does not know go by their shape alone), first match wins (`reason` in parentheses):
///  1. integer tensors are written as they are (`kept: integer`); empty tensors likewise (`kept: empty`);
///  2. `logit_scale` (`kept: logit_scale`), the box head (`bbox_embed`, `reg_token`: `kept: box head`),
///     LayerNorm parameters (`kept: LayerNorm`), biases (`kept: bias`), the class embedding
///     (`kept: class embedding`), position embeddings (`kept: position embedding`), the bridges'
///     per-position adaptive weights (`kept: adaptive weights (per-position embedding)`), other
///     0-/1-D tensors (`kept: 1-D`) and tensors of more than two dimensions (the patch embedding and
///     `seg_conv*`: `kept: convolution (4-D)`) stay F32;
///  3. every other 2-D floating-point tensor is quantized: linear weights (`quantized: linear weight`)
///     and the token embedding (`quantized: token embedding`, row lookups dequantize block by block).
///
/// Overrides: a tensor matching a `--keep` glob is kept (`kept: --keep GLOB`), whatever else matches.
/// With `--only` globs, exactly the floating-point tensors matching one are encoded, the default rules
/// notwithstanding (`encoded: --only GLOB`), and all others are kept (`kept: not matched by --only`).
/// Globs are `fnmatch(3)` patterns over the canonical name, `*` crossing dots.
///
/// Fallback: blocks run along the last dimension; when the scheme's block does not divide that row
/// length, the next scheme of the table's chain that fits is taken (`QuantScheme.spec.fallback`):
/// K-quant (256) → q8_0 (32) → f16 (reason `fallback q4_k→q8_0: row 64 % 256`). f16, bf16 and int8
/// fit every row.
///
/// Kept floating-point tensors are written F32 (`keptDType`); without a scheme (a plain write: a plain
/// dtype is a plan too) every floating-point tensor is written as `keptDType` (`plain f32`), or as its
/// own dtype when `keptDType` is nil (`plain: source dtype`, what `merge` writes without `--dtype`).
public enum QuantPolicy {
    /// The decision table for `graph` (canonical names) in graph order; `model` gives each tensor's kind
    /// (nil: every tensor goes by its shape).
    public static func plan(_ graph: WeightGraph, model: ModelDescription?, scheme: QuantScheme?, keep: [String] = [],
                            only: [String] = [], keptDType: DType? = .f32) -> ExportPlan {
        let entries = graph.entries.map { name, t in
            decide(name: name, kind: model?.kind(of: name), shape: t.shape, dtype: t.dtype, scheme: scheme, keep: keep, only: only,
                   keptDType: keptDType)
        }
        return ExportPlan(scheme: scheme, entries: entries, keep: keep, only: only)
    }

    /// The decision for one tensor.
    public static func decide(name: String, kind: TensorKind? = nil, shape: [Int], dtype: DType, scheme: QuantScheme?,
                              keep: [String] = [], only: [String] = [], keptDType: DType? = .f32) -> ExportPlan.Entry {
        let plainDType = dtype.isFloatingPoint ? keptDType ?? dtype : dtype
        func kept(_ why: String) -> ExportPlan.Entry {
            ExportPlan.Entry(name: name, shape: shape, sourceDType: dtype, scheme: nil, plainDType: plainDType, reason: why)
        }
        guard let scheme else {
            guard dtype.isFloatingPoint else { return kept("kept: integer") }
            return kept(keptDType.map { "plain \($0.rawValue.lowercased())" } ?? "plain: source dtype")
        }
        if !dtype.isFloatingPoint { return kept("kept: integer") }
        if (Tensor.checkedCount(shape) ?? 0) == 0 { return kept("kept: empty") }
        if let g = keep.first(where: { matches($0, name) }) { return kept("kept: --keep \(g)") }
        let why: String
        if !only.isEmpty {
            guard let g = only.first(where: { matches($0, name) }) else { return kept("kept: not matched by --only") }
            why = "encoded: --only \(g)"
        } else {
            if let reason = defaultKeepReason(kind: kind, shape: shape) { return kept(reason) }
            why = kind == .tokenEmbedding ? "quantized: token embedding" : "quantized: linear weight"
        }
        let cols = shape.last ?? 1
        let (chosen, fallback) = fit(scheme, rowLength: cols)
        return ExportPlan.Entry(name: name, shape: shape, sourceDType: dtype, scheme: chosen, plainDType: plainDType,
                                requested: chosen == scheme ? nil : scheme, reason: fallback ?? why)
    }

    /// Why the default rules keep a floating-point tensor of `kind` (nil: unknown to the model), or nil
    /// when they quantize it.
    public static func defaultKeepReason(kind: TensorKind?, shape: [Int]) -> String? {
        switch kind {
        case .logitScale?: return "kept: logit_scale"
        case .boxHead?: return "kept: box head"
        case .layerNorm?: return "kept: LayerNorm"
        case .bias?: return "kept: bias"
        case .classEmbedding?: return "kept: class embedding"
        case .positionEmbedding?: return "kept: position embedding"
        case .adaptiveWeights?: return "kept: adaptive weights (per-position embedding)"
        case .linearWeight?, .tokenEmbedding?, .convolution?, nil: break
        }
        if shape.count <= 1 { return "kept: \(shape.count)-D" }
        if shape.count > 2 { return "kept: convolution (\(shape.count)-D)" }
        return nil
    }

    /// The scheme that fits a row of `rowLength`, starting from `scheme` and following the table's
    /// fallbacks (K-quant → q8_0 → f16), and the fallback reason when it is not `scheme`.
    public static func fit(_ scheme: QuantScheme, rowLength cols: Int) -> (QuantScheme, String?) {
        if scheme.fits(rowLength: cols) { return (scheme, nil) }
        var misses = ["% \(scheme.blockSize)"]
        var next = scheme.spec.fallback
        while let n = next {
            if n.fits(rowLength: cols) {
                return (n, "fallback \(scheme.rawValue)→\(n.rawValue): row \(cols) " + misses.joined(separator: ", "))
            }
            misses.append("% \(n.blockSize)")
            next = n.spec.fallback
        }
        // every chain ends at f16 or bf16, which fit any row: a table whose chain does not is a bug
        preconditionFailure("QuantScheme.spec: the fallback chain of \(scheme.rawValue) ends without a scheme for row \(cols)")
    }

    /// `fnmatch(3)` without flags: `*` and `?` match any character, dots included.
    public static func matches(_ glob: String, _ name: String) -> Bool {
        fnmatch(glob, name, 0) == 0
    }

    /// The output NMSE `verify` allows for weights stored with `s`: 16·b² of its relative-RMS bound b
    /// (`QuantScheme.spec.rmsRelativeBound`; a weight noise ε shows up as an output NMSE of about 8–11 ε²
    /// through the forward pass), and at most 1e-4 for the plain float formats f16/bf16 (the bound the
    /// forward-pass issue sets for them; bf16's 16·b² would be 2.4e-4, measured 2.6–3.3e-5).
    public static func verifyGate(_ s: QuantScheme) -> Double {
        let b = rmsRelativeBound(s)
        return s.spec.plainDType != nil ? min(16 * b * b, 1e-4) : 16 * b * b
    }

    /// The scheme with the largest relative-RMS bound among `schemes` (the one a gate must allow for).
    public static func loosest<S: Sequence>(_ schemes: S) -> QuantScheme? where S.Element == QuantScheme {
        schemes.max { rmsRelativeBound($0) < rmsRelativeBound($1) }
    }

    /// The table's ceiling on the relative RMS error of `s` (`QuantScheme.spec.rmsRelativeBound`).
    public static func rmsRelativeBound(_ s: QuantScheme) -> Double { s.spec.rmsRelativeBound }
}
