// Small codes stored in a RequestEvent. Each is a RawRepresentable wrapper of a UInt8 rather than
// an enum: every bit pattern is a valid value (events are copied as raw words), and new codes can
// be added without breaking exporters that do not know them yet.

/// The request method, as a one-byte code.
public struct RequestMethod: RawRepresentable, Sendable, Hashable, BitwiseCopyable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unknown = Self(rawValue: 0)
    public static let get = Self(rawValue: 1)
    public static let head = Self(rawValue: 2)
    public static let post = Self(rawValue: 3)
    public static let put = Self(rawValue: 4)
    public static let delete = Self(rawValue: 5)
    public static let patch = Self(rawValue: 6)
    public static let options = Self(rawValue: 7)
    public static let trace = Self(rawValue: 8)
    public static let connect = Self(rawValue: 9)
    /// A method token that is none of the above (its name is not kept).
    public static let other = Self(rawValue: 255)

    private static let names = ["UNKNOWN", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]

    /// The code for a method name (case-sensitive, as HTTP methods are).
    public init(name: some StringProtocol) {
        if let i = Self.names.firstIndex(where: { $0 == name }), i > 0 { self.init(rawValue: UInt8(i)) } else { self = .other }
    }

    /// The method's name (`OTHER` for ``other``).
    public var description: String { Int(rawValue) < Self.names.count ? Self.names[Int(rawValue)] : "OTHER" }
}

/// Who produced the response the client received.
public struct ResponseSource: RawRepresentable, Sendable, Hashable, BitwiseCopyable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The upstream's response was relayed (Kong's `source="service"`).
    public static let upstream = Self(rawValue: 0)
    /// The gateway answered itself (Kong's `source="kong"`): no route, errors, rejections.
    public static let gateway = Self(rawValue: 1)

    public var description: String { self == .upstream ? "upstream" : "gateway" }
}

/// Why the gateway decided the outcome of a request. ``none`` when the upstream answered.
public struct RequestDecision: RawRepresentable, Sendable, Hashable, BitwiseCopyable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let none = Self(rawValue: 0)
    /// No route matched (404).
    public static let noRoute = Self(rawValue: 1)
    /// A route matched but has no service (503).
    public static let noService = Self(rawValue: 2)
    /// Rejected by rate limiting (429).
    public static let rateLimited = Self(rawValue: 3)
    /// Authentication or authorisation failed (401/403).
    public static let authFailed = Self(rawValue: 4)
    /// No upstream could be connected to, or the upstream failed (502/503).
    public static let upstreamUnavailable = Self(rawValue: 5)
    /// The upstream timed out (504).
    public static let upstreamTimeout = Self(rawValue: 6)
    /// The request was malformed (400, 411, 413, 414, 431, ...).
    public static let badRequest = Self(rawValue: 7)
    /// The client went away before the response was complete.
    public static let clientAborted = Self(rawValue: 8)
    /// A plugin answered (e.g. a redirect or a terminating plugin).
    public static let pluginResponse = Self(rawValue: 9)
    /// The upstream's response was malformed (502).
    public static let badUpstreamResponse = Self(rawValue: 10)
    /// The gateway was draining or overloaded.
    public static let unavailable = Self(rawValue: 11)
    /// proxy-cache answered from its store.
    public static let cacheHit = Self(rawValue: 12)

    private static let names = [
        "none", "no_route", "no_service", "rate_limited", "auth_failed", "upstream_unavailable",
        "upstream_timeout", "bad_request", "client_aborted", "plugin_response", "bad_upstream_response",
        "unavailable", "cache_hit",
    ]

    /// A snake_case label suitable for metrics (`decision="no_route"`); `code_N` for unknown codes.
    public var description: String { Int(rawValue) < Self.names.count ? Self.names[Int(rawValue)] : "code_\(rawValue)" }
}

/// The family of a ``ClientAddress``.
public struct AddressFamily: RawRepresentable, Sendable, Hashable, BitwiseCopyable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unknown = Self(rawValue: 0)
    /// IPv4, stored IPv6-mapped.
    public static let ipv4 = Self(rawValue: 4)
    public static let ipv6 = Self(rawValue: 6)
    /// A Unix domain socket (no address).
    public static let unix = Self(rawValue: 1)
}

/// Bits of ``RequestEvent/flags``.
public struct EventFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The rate-limit counter store failed for this request (served anyway when fault tolerant).
    public static let rateLimitStoreError = Self(rawValue: 1 << 0)

    /// Bits 1–3: proxy-cache's `X-Cache-Status` for the request (0 none, 1 Hit, 2 Miss,
    /// 3 Refresh, 4 Bypass).
    public var cacheStatus: UInt8 {
        get { (rawValue >> 1) & 0x7 }
        set { rawValue = (rawValue & ~0x0E) | ((newValue & 0x7) << 1) }
    }

    public static let cacheStatusNames = ["", "hit", "miss", "refresh", "bypass"]
}

/// The reason codes (``RequestEvent/reason``) of a request that failed upstream (no plugin
/// answered it): why its last try failed, when the gateway knows more than the status says.
public enum UpstreamReason {
    /// The TLS handshake with the upstream failed (protocol, cipher, a bad record).
    public static let tlsHandshake: UInt8 = 1
    /// The upstream's certificate did not verify (unknown CA, expired, name mismatch).
    public static let tlsVerification: UInt8 = 2

    public static func name(_ reason: UInt8) -> String {
        switch reason {
        case tlsHandshake: return "tls_handshake"
        case tlsVerification: return "tls_verification"
        default: return ""
        }
    }
}

/// The reason codes (``RequestEvent/reason``) access plugins put in their rejections' events.
public enum AccessReason {
    /// key-auth: 1 no key, 2 invalid key, 3 duplicate key. basic-auth: 1 no credentials, 2 invalid
    /// credentials. acl: 1 no consumer, 2 forbidden group. ip-restriction: 1 denied address.
    /// jwt: 1 no token, 2 malformed or ambiguous token, 3 unknown key, 4 bad algorithm, key or
    /// signature, 5 claims (expired, not yet valid, too long-lived).
    /// Any plugin: 15 misconfigured (an `anonymous` consumer that does not exist).
    public static func name(plugin: String, reason: UInt8) -> String {
        if reason == 15 { return "misconfigured" }
        switch (plugin, reason) {
        case ("key-auth", 1): return "no_key"
        case ("key-auth", 2): return "invalid_key"
        case ("key-auth", 3): return "duplicate_key"
        case ("basic-auth", 1): return "no_credentials"
        case ("basic-auth", 2): return "invalid_credentials"
        case ("acl", 1): return "no_consumer"
        case ("acl", 2): return "forbidden"
        case ("ip-restriction", 1): return "denied"
        case ("jwt", 1): return "no_token"
        case ("jwt", 2): return "bad_token"
        case ("jwt", 3): return "unknown_key"
        case ("jwt", 4): return "invalid_signature"
        case ("jwt", 5): return "invalid_claims"
        default: return "code_\(reason)"
        }
    }
}

/// Bits of ``RequestEvent/transport``.
public enum ClientTransport {
    /// The client connection is TLS (the request's scheme is https).
    public static let tls: UInt8 = 1 << 0
}
