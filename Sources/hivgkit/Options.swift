import ArgumentParser
import HiVGCore
import HiVGForward
import HiVGFormats

/// How sources are read: shared by every command that opens a checkpoint.
struct ReadOptionGroup: ParsableArguments {
    @Option(name: .customLong("allow-global"), help: ArgumentHelp(
        "Accept calls of this global as inert records instead of refusing the file (repeatable), e.g. numpy.core.multiarray.scalar.",
        valueName: "MODULE.NAME"))
    var allowGlobal: [String] = []

    @Option(help: ArgumentHelp("Container path of the state dict inside the checkpoint (found automatically when omitted).",
                               valueName: "KEY[.KEY…]"))
    var select: String?

    func validate() throws {
        for g in allowGlobal where !g.contains(".") || g.hasPrefix(".") || g.hasSuffix(".") {
            throw ValidationError("--allow-global takes MODULE.NAME, got `\(g)`")
        }
    }

    var readOptions: ReadOptions {
        var o = ReadOptions()
        o.allowedGlobals = Set(allowGlobal)
        if let select { o.select = select.split(separator: ".").map(String.init) }
        return o
    }
}

/// Output switches every reporting command has.
struct OutputOptionGroup: ParsableArguments {
    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Flag(help: "No progress display.")
    var quiet = false
}

/// The provenance record's source hashes: shared by the commands that write models.
struct HashCacheOptionGroup: ParsableArguments {
    @Flag(name: .customLong("no-hash-cache"), help: ArgumentHelp(
        "Hash the sources for the provenance record even when the hash cache ($XDG_CACHE_HOME/hivgkit, keyed on device, inode, size, mtime, ctime) has them, and do not store the hashes (also HIVGKIT_NO_CACHE=1)."))
    var noHashCache = false
}

/// `--weights`: how linears stored as q8_0 reach the forward pass's GEMMs.
enum WeightsChoice: String, ExpressibleByArgument, CaseIterable {
    /// int8 where the CPU has AVX-512 VNNI (measured ~3× the F32 GEMM there), else decoded.
    case auto
    case decoded
    case int8

    var path: ForwardModel.WeightPath {
        switch self {
        case .auto: return PackedGEMM.int8UsesVNNI ? .int8 : .decoded
        case .decoded: return .decoded
        case .int8: return .int8
        }
    }
}
