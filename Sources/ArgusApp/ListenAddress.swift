/// `HOST:PORT` as given on the command line or in `ARGUS_*_LISTEN` (IPv6 as `[::1]:8000`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// - Throws: `StartupError` when the text is not `HOST:PORT` with a port in 0–65535.
    public init(parsing text: String) throws(StartupError) {
        guard let colon = text.lastIndex(of: ":") else { throw StartupError("invalid listen address '\(text)': expected HOST:PORT") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw StartupError("invalid listen address '\(text)': expected HOST:PORT")
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why the gateway could not start, in one line.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
