/// Why a Redis command failed.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error reply (`-ERR …`).
    case server(String)
    /// No reply within the endpoint's timeout.
    case timeout
    /// The connection closed (or could not be opened) before the reply.
    case connectionClosed
    /// Connecting failed; new attempts wait for the back-off to pass.
    case unavailable(String)
    /// The reply could not be parsed.
    case protocolError(String)
    /// The reply had an unexpected shape.
    case unexpectedReply(String)

    public var description: String {
        switch self {
        case .server(let message): return "redis: \(message)"
        case .timeout: return "redis: timeout"
        case .connectionClosed: return "redis: connection closed"
        case .unavailable(let reason): return "redis unavailable: \(reason)"
        case .protocolError(let reason): return "redis protocol error: \(reason)"
        case .unexpectedReply(let reply): return "redis: unexpected reply \(reply)"
        }
    }
}
