import ArgumentParser
import HiVGForward

@main
struct HiVGKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hivgkit",
        abstract: "Read, inspect, merge and export HiVG visual-grounding checkpoints without Python.",
        version: HiVGKitVersion.string,
        subcommands: [InspectCommand.self, LoraCommand.self, MergeCommand.self, ExtractCommand.self, RanksCommand.self, DiffCommand.self, ForwardCommand.self, VerifyCommand.self, CheckCommand.self, ExportCommand.self, QuantizeCommand.self, PreprocessCommand.self, TokenizeCommand.self, ONNXSamplesCommand.self, GroundCommand.self, EvalCommand.self, ReleaseCommand.self]
    )

    static func main() {
        Signals.install()
        InspectCommand.runIfPlain(CommandLine.arguments)  // returns unless the call is `inspect FILE`
        Allocator.keepFreedMemory()  // the forward pass's activation buffers stay in the heap (see Allocator)
        main(nil)
    }
}

enum HiVGKitVersion {
    static let string = "0.1.0"
}
