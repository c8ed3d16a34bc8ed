import ArgumentParser

@main
struct Argus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "argus",
        abstract: "Argus: an observability-first API gateway that speaks Kong's configuration.",
        version: "0.1.0",
        subcommands: [Start.self, ConfigCommand.self]
    )
}
