import ArgumentParser
import HiVGCore
import HiVGModel

/// `--format`: every registered output format (`OutputFormat`).
extension OutputFormat: ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// `--layout`.
extension OutputLayout: ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// `--scheme`: every quantization scheme of the scheme table.
extension QuantScheme: ExpressibleByArgument {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// `--dtype`: the plain floating-point dtypes a model is written in.
enum PlainDType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16
    var dtype: DType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }
}

/// The output format from --format or the output's extension, checked against the scheme and layout.
func resolvedFormat(_ format: OutputFormat?, output: String?, scheme: QuantScheme?, layout: OutputLayout = .canonical,
                    plan: Bool) throws -> OutputFormat {
    if output == nil && !plan { throw ValidationError("give the output file: -o FILE (or --plan to print the decisions only)") }
    guard let f = format ?? (output.map { OutputFormat.infer($0) } ?? .hivgw) else {
        throw ValidationError("cannot tell the format from the extension of \(output ?? ""): give --format "
                              + OutputFormat.allCases.map(\.rawValue).joined(separator: ", "))
    }
    if let p = f.problem(with: scheme) { throw ValidationError(p) }
    if !f.layouts.contains(layout) {
        throw ValidationError("--layout \(layout.rawValue) is not written as \(f.rawValue) (\(f.rawValue) layouts: "
                              + f.layouts.map(\.rawValue).joined(separator: ", ") + ")")
    }
    return f
}
