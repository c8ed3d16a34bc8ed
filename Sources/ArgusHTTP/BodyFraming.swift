/// How a message body is delimited (RFC 9112 §6).
public enum BodyFraming: Sendable, Equatable {
    /// No body at all.
    case none
    /// Exactly this many bytes.
    case length(Int)
    /// Chunked transfer coding.
    case chunked
    /// Until the connection closes (responses only).
    case untilClose
}
