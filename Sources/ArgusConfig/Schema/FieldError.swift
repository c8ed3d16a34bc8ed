/// One schema violation inside a document: where (`plugins[0].config.minute`) and what, in Kong's
/// words (`value should be between 0 and 65535`). The loader turns these into `ConfigError`s.
public struct FieldError: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
