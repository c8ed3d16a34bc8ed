import ArgusPluginKit
import ArgusConfig
import ArgusHTTP
import NIOCore
import Foundation

/// Kong's cors plugin (kong-compat §5.6): preflights answered by the gateway, and the
/// `Access-Control-*` headers added to actual responses.
public final class CORSPlan: Sendable {
    enum Origin: Sendable {
        /// A normalised `scheme://host[:port]`.
        case exact(String, byHost: Bool)
        case regex(CompiledRegex, byHost: Bool)
    }

    let allowAll: Bool
    /// `*` among several origins: any request with an `Origin` is allowed (Kong 3.8+).
    let starAmongOthers: Bool
    /// One plain origin: always sent as it is.
    let single: String?
    let origins: [Origin]
    let headers: String?
    let exposedHeaders: String?
    let methods: String
    let maxAge: String?
    let credentials: Bool
    let privateNetwork: Bool
    public let preflightContinue: Bool
    let allowOriginAbsent: Bool

    public init(config: JSONValue) {
        let list = config["origins"]?.arrayValue?.compactMap(\.stringValue) ?? []
        allowAll = list.isEmpty || (list.count == 1 && list[0] == "*")
        starAmongOthers = !allowAll && list.contains("*")
        var parsed: [Origin] = []
        for entry in list where entry != "*" {
            let byHost = !entry.contains(":")
            // Kong: an entry with a character outside [A-Za-z0-9.:/-] is a regex, anchored at both ends.
            if entry.unicodeScalars.contains(where: { !($0.properties.isASCIIHexDigit || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ".:/-".unicodeScalars.contains($0)) }) {
                var pattern = entry
                if pattern.hasPrefix("^") { pattern.removeFirst() }
                if !pattern.hasSuffix("$") { pattern += "$" }
                if let regex = CompiledRegex(String(pattern.dropLast())) { parsed.append(.regex(regex, byHost: byHost)) }
            } else {
                parsed.append(.exact(Self.normalize(entry)?.origin ?? entry, byHost: byHost))
            }
        }
        origins = parsed
        single = !allowAll && list.count == 1 && parsed.count == 1 && { if case .exact = parsed[0] { return true } else { return false } }() ? list[0] : nil
        headers = config["headers"]?.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ",") }
        exposedHeaders = config["exposed_headers"]?.arrayValue.map { $0.compactMap(\.stringValue).joined(separator: ",") }
        methods = (config["methods"]?.arrayValue?.compactMap(\.stringValue) ?? ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"])
            .joined(separator: ",")
        maxAge = config["max_age"]?.doubleValue.map { $0 == $0.rounded() ? String(Int($0)) : String($0) }
        credentials = config["credentials"]?.boolValue ?? false
        privateNetwork = config["private_network"]?.boolValue ?? false
        preflightContinue = config["preflight_continue"]?.boolValue ?? false
        allowOriginAbsent = config["allow_origin_absent"]?.boolValue ?? true
        ownedResponseHeaders = ["access-control-allow-origin"] + (credentials ? ["access-control-allow-credentials"] : [])
            + (exposedHeaders != nil ? ["access-control-expose-headers"] : [])
    }

    /// Whether the request is a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
    public func isPreflight(_ head: RequestHead) -> Bool {
        head.methodString == "OPTIONS" && Self.origin(head) != nil
            && head.valueRange(forLowercasedName: Self.requestMethodName).first != nil
    }

    /// The request's `Origin`; an empty one counts as none.
    static func origin(_ head: RequestHead) -> Range<Int>? {
        guard let range = head.valueRange(forLowercasedName: originName).first, !range.isEmpty else { return nil }
        return range
    }

    /// Upstream response headers the plugin owns (lower-cased): Kong sets
    /// `Access-Control-Allow-Origin` itself, replacing the upstream's or clearing it when the
    /// origin is not allowed, and replaces the credentials and exposed-headers ones it sets.
    public let ownedResponseHeaders: [String]

    static let originName = Array("origin".utf8)
    static let requestMethodName = Array("access-control-request-method".utf8)

    /// The headers of the gateway's answer to a preflight (200, no body).
    public func preflightHeaders(_ head: RequestHead) -> [(String, String)] {
        var out = originHeaders(head)
        if credentials { out.append(("Access-Control-Allow-Credentials", "true")) }
        if let headers {
            out.append(("Access-Control-Allow-Headers", headers))
        } else if let asked = head.values(forLowercasedName: "access-control-request-headers").first {
            out.append(("Access-Control-Allow-Headers", asked))
        }
        out.append(("Access-Control-Allow-Methods", methods))
        if let maxAge { out.append(("Access-Control-Max-Age", maxAge)) }
        if privateNetwork, head.values(forLowercasedName: "access-control-request-private-network").first == "true" {
            out.append(("Access-Control-Allow-Private-Network", "true"))
        }
        return out
    }

    /// The headers added to an actual response.
    /// The same headers written as lines into `out`; the common `origins: ["*"]` case copies the
    /// request's Origin as bytes (no String per request).
    /// Returns false when the plugin leaves the response alone (`allow_origin_absent` off and no Origin).
    @discardableResult
    public func writeResponseHeaders(_ head: RequestHead, into out: inout ByteBuffer) -> Bool {
        let origin = Self.origin(head)
        if !allowOriginAbsent && origin == nil { return false }
        guard allowAll || (starAmongOthers && origin != nil) else {
            for (name, value) in responseHeaders(head) {
                out.writeString(name)
                out.writeStaticString(": ")
                out.writeString(value)
                out.writeStaticString("\r\n")
            }
            return true
        }
        if credentials, let origin {
            out.writeStaticString("Access-Control-Allow-Origin: ")
            _ = head.bytes.withUnsafeReadableBytes { out.writeBytes(UnsafeRawBufferPointer(rebasing: $0[origin])) }
            out.writeStaticString("\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n")
        } else {
            // `*` carries no credentials: without an Origin there is no Access-Control-Allow-Credentials (Kong)
            out.writeStaticString("Access-Control-Allow-Origin: *\r\n")
            if starAmongOthers { out.writeStaticString("Vary: Origin\r\n") }
        }
        if let exposedHeaders {
            out.writeStaticString("Access-Control-Expose-Headers: ")
            out.writeString(exposedHeaders)
            out.writeStaticString("\r\n")
        }
        return true
    }

    public func responseHeaders(_ head: RequestHead) -> [(String, String)] {
        if !allowOriginAbsent && Self.origin(head) == nil { return [] }
        var out = originHeaders(head)
        // Kong: with a list of origins, credentials are announced whether or not the origin matched;
        // allowing all without an Origin, they are not
        if credentials && (!allowAll || out.contains(where: { $0.0 == "Access-Control-Allow-Origin" && $0.1 != "*" })) {
            out.append(("Access-Control-Allow-Credentials", "true"))
        }
        if let exposedHeaders { out.append(("Access-Control-Expose-Headers", exposedHeaders)) }
        return out
    }

    /// `Access-Control-Allow-Origin` (and `Vary: Origin` when it depends on the request).
    func originHeaders(_ head: RequestHead) -> [(String, String)] {
        let requestOrigin = head.values(forLowercasedName: "origin").first.flatMap { $0.isEmpty ? nil : $0 }
        if allowAll || (starAmongOthers && requestOrigin != nil) {
            // `*` cannot carry credentials: the request's origin is echoed instead.
            if credentials, let requestOrigin { return [("Access-Control-Allow-Origin", requestOrigin), ("Vary", "Origin")] }
            return starAmongOthers ? [("Access-Control-Allow-Origin", "*"), ("Vary", "Origin")] : [("Access-Control-Allow-Origin", "*")]
        }
        if let single { return [("Access-Control-Allow-Origin", single), ("Vary", "Origin")] }
        guard let requestOrigin else { return [("Vary", "Origin")] }
        // an Origin that is not `scheme://host` (a configured `foo.test` matches only that text, as in Kong)
        guard let normalized = Self.normalize(requestOrigin) else {
            // Kong compares such an Origin (`example.test`, `null`) as it is, with plain and regex entries
            let matches = origins.contains {
                switch $0 {
                case .exact(let value, _): return value == requestOrigin
                case .regex(let regex, _): return regex.matchesWhole(requestOrigin)
                }
            }
            return matches ? [("Access-Control-Allow-Origin", requestOrigin), ("Vary", "Origin")] : [("Vary", "Origin")]
        }
        for origin in origins {
            switch origin {
            case .exact(let value, _):
                if value == normalized.origin { return [("Access-Control-Allow-Origin", normalized.origin), ("Vary", "Origin")] }
            case .regex(let regex, let byHost):
                if regex.matchesWhole(byHost ? normalized.host : normalized.origin) {
                    return [("Access-Control-Allow-Origin", normalized.origin), ("Vary", "Origin")]
                }
            }
        }
        return [("Vary", "Origin")]
    }

    /// `scheme://host[:port]` lower-cased, without the scheme's default port; and the host alone.
    static func normalize(_ origin: String) -> (origin: String, host: String)? {
        guard let schemeEnd = origin.range(of: "://") else { return nil }
        let scheme = origin[..<schemeEnd.lowerBound].lowercased()
        var rest = origin[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = rest.lowercased()
        var port: String?
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            port = String(host[host.index(after: colon)...])
            host = String(host[..<colon])
        }
        if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") { port = nil }
        return (scheme + "://" + host + (port.map { ":" + $0 } ?? ""), host)
    }
}
