import ArgumentParser

@main
struct HiVGKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hivgkit",
        abstract: "Read, inspect, merge and export HiVG visual-grounding checkpoints without Python.",
        version: HiVGKitVersion.string,
        subcommands: [InspectCommand.self, LoraCommand.self, MergeCommand.self, ExtractCommand.self, RanksCommand.self, DiffCommand.self, ForwardCommand.self, VerifyCommand.self, CheckCommand.self, ExportCommand.self, QuantizeCommand.self]
    )

    static func main() {
        Signals.install()
        InspectCommand.runIfPlain(CommandLine.arguments)  // returns unless the call is `inspect FILE`
        main(nil)
    }
}

enum HiVGKitVersion {
    static let string = "0.1.0"
}
