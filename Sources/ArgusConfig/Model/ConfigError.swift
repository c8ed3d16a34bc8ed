/// One problem in a configuration file: which file, where inside it, and what is wrong, in Kong's words.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// A path inside the document, e.g. `services[2].routes[0].paths[1]`; empty for the whole document.
    public var path: String
    /// Kong's message, e.g. `should start with: /`, `unknown field`, `expected one of: http, https`.
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

/// Every problem found in one configuration file (validation does not stop at the first).
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
