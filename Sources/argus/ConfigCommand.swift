import ArgumentParser
import ArgusConfig
import Foundation

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with declarative config files.", subcommands: [Validate.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a kong.yml / JSON file: exit 0 with a summary, or 1 listing every error.")

        @Argument(help: "The declarative config file.")
        var file: String

        func run() throws {
            do {
                let config = try ConfigLoader.load(file: file)
                print("\(file): valid: \(config.summary)")
            } catch {
                for problem in error.errors { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
                FileHandle.standardError.write(Data("\(file): \(error.errors.count) error\(error.errors.count == 1 ? "" : "s")\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
