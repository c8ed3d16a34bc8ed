/// The header names the proxy acts on, recognised once while parsing so that the data path never
/// compares strings. Everything else is `.other` and is copied through as bytes.
public enum HeaderName: UInt8, Sendable {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case keepAlive
    case proxyConnection
    case proxy
    case te
    case trailer
    case upgrade
    case expect
    case via
    case server
    case date
    case accept
    case contentType
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case xForwardedPort
    case xForwardedPath
    case xForwardedPrefix
    case xRealIP
    case xKongRequestID

    /// Hop-by-hop headers a proxy never forwards (RFC 9110 §7.6.1), in either direction.
    public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .proxy, .te, .trailer, .transferEncoding, .upgrade: return true
        default: return false
        }
    }

    static func classify(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> HeaderName {
        @inline(__always) func eq(_ literal: StaticString) -> Bool {
            ASCII.equalsLowercased(bytes, start, length, literal)
        }
        switch length {
        case 2: return eq("te") ? .te : .other
        case 3: return eq("via") ? .via : .other
        case 4:
            if eq("host") { return .host }
            if eq("date") { return .date }
            return .other
        case 5: return eq("proxy") ? .proxy : .other
        case 6:
            if eq("server") { return .server }
            if eq("accept") { return .accept }
            if eq("expect") { return .expect }
            return .other
        case 7:
            if eq("upgrade") { return .upgrade }
            if eq("trailer") { return .trailer }
            return .other
        case 9: return eq("x-real-ip") ? .xRealIP : .other
        case 10:
            if eq("connection") { return .connection }
            if eq("keep-alive") { return .keepAlive }
            return .other
        case 12: return eq("content-type") ? .contentType : .other
        case 14: return eq("content-length") ? .contentLength : .other
        case 15:
            if eq("x-forwarded-for") { return .xForwardedFor }
            return .other
        case 16:
            if eq("x-forwarded-host") { return .xForwardedHost }
            if eq("x-forwarded-port") { return .xForwardedPort }
            if eq("x-forwarded-path") { return .xForwardedPath }
            if eq("proxy-connection") { return .proxyConnection }
            if eq("x-kong-request-id") { return .other }
            return .other
        case 17:
            if eq("x-forwarded-proto") { return .xForwardedProto }
            if eq("transfer-encoding") { return .transferEncoding }
            if eq("x-kong-request-id") { return .xKongRequestID }
            return .other
        case 18: return eq("x-forwarded-prefix") ? .xForwardedPrefix : .other
        default: return .other
        }
    }
}
