import ArgusConfig
import ArgusEvents
#if canImport(Glibc)
import Glibc
#endif

/// Kong's log serializer (`kong.log.serialize()`, kong-compat §6.3) from an event, its details
/// and the config it was served under: one JSON object, built off the event loops.
public struct LogSerializer: Sendable {
    /// Most headers kept per request and per response (Kong: `lua_max_req_headers` = 100).
    public var maxHeaders = 100
    /// Longest header value kept; longer ones are cut.
    public var maxHeaderValueBytes = 4096
    let clock: WallClock

    public init(clock: WallClock = WallClock()) {
        self.clock = clock
    }

    /// The record for `event`. `detail` is nil when the details were lost (the sink fell too far
    /// behind): the record then has what the event holds, and `request.headers` etc. are empty.
    public func serialize(_ event: RequestEvent, detail: RequestDetail?, config: DeclarativeConfig) -> [UInt8] {
        var w = JSONWriter(capacity: 2048)
        let request = detail.map { HeadLines(Array($0.requestHead)) }
        let response = detail.map { HeadLines(Array($0.responseHead)) }
        w.openObject()

        w.key("request")
        w.openObject()
        w.key("id"); w.string(RequestIDText.format(high: event.requestIDHigh, low: event.requestIDLow))
        let target = request?.requestTarget ?? []
        w.key("uri"); w.string(bytes: target)
        let host = request?.first("host").map { Self.stripPort($0) } ?? []
        var url = Array("http://".utf8) + host
        url += Array(":\(detail?.serverPort ?? 0)".utf8) + target
        w.key("url"); w.string(bytes: url)
        w.key("querystring"); Self.writeQuery(target, into: &w)
        w.key("method"); w.string(event.method == .other ? String(decoding: request?.method ?? [], as: UTF8.self) : event.method.description)
        w.key("headers"); writeHeaders(request, redacting: true, into: &w)
        w.key("size"); w.integer(Int(event.requestBytes))
        w.closeObject()

        let proxied = event.upstreamSentAt != 0
        // The balancer ran (at least one try) even when no request reached an upstream.
        let tries = detail?.tries ?? []
        w.key("upstream_uri"); w.string(bytes: tries.isEmpty ? [] : detail?.upstreamTarget ?? [])
        let codes = tries.map(\.code).filter { $0 != 0 }.map(String.init)
        if !codes.isEmpty {
            w.key("upstream_status"); w.string(codes.joined(separator: ", "))
        } else if proxied {
            w.key("upstream_status"); w.string(String(event.status))
        }

        w.key("response")
        w.openObject()
        w.key("status"); w.integer(Int(event.status))
        w.key("headers"); writeHeaders(response, redacting: false, into: &w)
        w.key("size"); w.integer(Int(event.responseBytes))
        w.closeObject()

        w.key("latencies")
        w.openObject()
        w.key("kong"); w.integer(Int(event.gatewayLatencyNanos / 1_000_000))
        w.key("proxy"); w.integer(proxied && event.upstreamFirstByteAt != 0 ? Int(event.upstreamLatencyNanos / 1_000_000) : -1)
        w.key("request"); w.integer(Int(event.totalLatencyNanos / 1_000_000))
        let receive = event.upstreamFirstByteAt != 0 && event.completedAt >= event.upstreamFirstByteAt
            ? Int((event.completedAt - event.upstreamFirstByteAt) / 1_000_000) : 0
        w.key("receive"); w.integer(receive)
        w.closeObject()

        if !tries.isEmpty {
            w.key("tries")
            w.openArray()
            for t in tries {
                w.openObject()
                w.key("ip"); w.string(t.host)
                w.key("port"); w.integer(t.port)
                let startNanos = clock.wallNanos(monotonic: t.startedAt)
                w.key("balancer_start"); w.integer(Int(startNanos / 1_000_000))
                w.key("balancer_start_ns"); w.integer(Int(startNanos))
                w.key("balancer_latency"); w.integer(0)
                w.key("balancer_latency_ns"); w.integer(0)
                if t.failed {
                    w.key("state"); w.string("failed")
                    w.key("code"); w.integer(Int(t.code))
                }
                w.closeObject()
            }
            w.closeArray()
        }

        w.key("client_ip"); w.string(Self.addressText(event))
        w.key("started_at"); w.integer(Int(clock.wallNanos(monotonic: event.receivedAt) / 1_000_000))
        w.key("source"); w.string(event.source == .upstream ? "upstream" : "kong")
        if event.service >= 0 && Int(event.service) < config.services.count {
            w.key("service"); w.value(EntityJSON.service(config.services[Int(event.service)]))
        }
        if event.route >= 0 && Int(event.route) < config.routes.count {
            w.key("route"); w.value(EntityJSON.route(config.routes[Int(event.route)]))
        }
        if event.consumer >= 0 && Int(event.consumer) < config.consumers.count {
            w.key("consumer"); w.value(EntityJSON.consumer(config.consumers[Int(event.consumer)]))
        }
        w.key("workspace"); w.string(EntityJSON.defaultWorkspaceID)
        w.key("workspace_name"); w.string("default")
        w.closeObject()
        return w.bytes
    }

    private func writeHeaders(_ head: HeadLines?, redacting: Bool, into w: inout JSONWriter) {
        w.openObject()
        guard let head else { w.closeObject(); return }
        // Lower-cased names in order of first appearance; repeated headers become arrays.
        var order: [[UInt8]] = []
        var values: [[UInt8]: [[UInt8]]] = [:]
        for (name, value) in head.fields.prefix(maxHeaders) {
            let lower = name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            if values[lower] == nil { order.append(lower) }
            values[lower, default: []].append(Array(value.prefix(maxHeaderValueBytes)))
        }
        for name in order {
            w.key(String(decoding: name, as: UTF8.self))
            let list = values[name] ?? []
            if redacting && (name == Array("authorization".utf8) || name == Array("proxy-authorization".utf8)) {
                w.string("REDACTED")
            } else if list.count == 1 {
                w.string(bytes: list[0])
            } else {
                w.openArray()
                for v in list { w.string(bytes: v) }
                w.closeArray()
            }
        }
        w.closeObject()
    }

    /// Kong's `querystring`: `a=1&b&c=2&c=3` → `{"a":"1","b":true,"c":["2","3"]}`, percent-decoded.
    static func writeQuery(_ target: [UInt8], into w: inout JSONWriter) {
        w.openObject()
        guard let q = target.firstIndex(of: UInt8(ascii: "?")) else { w.closeObject(); return }
        var order: [[UInt8]] = []
        var values: [[UInt8]: [[UInt8]?]] = [:]
        for part in target[(q + 1)...].split(separator: UInt8(ascii: "&")) {
            let pieces = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(pieces[0])
            if name.isEmpty { continue }
            let value = pieces.count > 1 ? percentDecode(pieces[1]) : nil
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(value)
        }
        for name in order {
            w.key(String(decoding: name, as: UTF8.self))
            let list = values[name] ?? []
            func one(_ v: [UInt8]?) { if let v { w.string(bytes: v) } else { w.bool(true) } }
            if list.count == 1 { one(list[0]) } else {
                w.openArray()
                for v in list { one(v) }
                w.closeArray()
            }
        }
        w.closeObject()
    }

    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 48...57: return b - 48
            case 65...70: return b - 55
            case 97...102: return b - 87
            default: return nil
            }
        }
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%"), i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b == UInt8(ascii: "+") ? UInt8(ascii: " ") : b)
                i += 1
            }
        }
        return out
    }

    static func stripPort(_ host: [UInt8]) -> [UInt8] {
        if host.first == UInt8(ascii: "["), let close = host.firstIndex(of: UInt8(ascii: "]")) { return Array(host[...close]) }
        if let colon = host.firstIndex(of: UInt8(ascii: ":")) { return Array(host[..<colon]) }
        return host
    }

    /// The client address as text: dotted IPv4, or IPv6 (RFC 5952 compression of the longest zero run).
    static func addressText(_ event: RequestEvent) -> String {
        let bytes = event.clientAddress.bytes
        switch event.addressFamily {
        case .ipv4: return bytes[12...].map(String.init).joined(separator: ".")
        case .ipv6:
            let groups = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
            var best = (start: -1, length: 0), i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > best.length && j - i > 1 { best = (i, j - i) }
                    i = j
                } else { i += 1 }
            }
            let hex = groups.map { String($0, radix: 16) }
            if best.start < 0 { return hex.joined(separator: ":") }
            let left = hex[..<best.start].joined(separator: ":"), right = hex[(best.start + best.length)...].joined(separator: ":")
            return left + "::" + right
        default: return ""
        }
    }
}

/// A request id's 32 lower-case hex characters.
enum RequestIDText {
    static func format(high: UInt64, low: UInt64) -> String {
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(high) + hex(low)
    }
}

/// The lines of a raw HTTP head: the start line and `name: value` fields (already validated by the
/// proxy's parser; a truncated last line is dropped).
struct HeadLines {
    var startLine: [UInt8] = []
    var fields: [([UInt8], [UInt8])] = []

    init(_ raw: [UInt8]) {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0, i = 0
        while i + 1 < raw.count {
            if raw[i] == 13 && raw[i + 1] == 10 {
                lines.append(raw[start..<i])
                start = i + 2
                i += 2
            } else {
                i += 1
            }
        }
        guard let first = lines.first else { return }
        startLine = Array(first)
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            var v = line[(colon + 1)...]
            while let f = v.first, f == 32 || f == 9 { v = v.dropFirst() }
            while let l = v.last, l == 32 || l == 9 { v = v.dropLast() }
            fields.append((Array(line[..<colon]), Array(v)))
        }
    }

    /// The second word of the start line (a request's target).
    var requestTarget: [UInt8] {
        let words = startLine.split(separator: 32, maxSplits: 2)
        return words.count > 1 ? Array(words[1]) : []
    }

    var method: [UInt8] { Array(startLine.split(separator: 32, maxSplits: 1).first ?? []) }

    /// The first value of a header (name compared without case).
    func first(_ lowercasedName: String) -> [UInt8]? {
        let wanted = Array(lowercasedName.utf8)
        return fields.first { $0.0.count == wanted.count && zip($0.0, wanted).allSatisfy { ($0 | 0x20) == $1 } }?.1
    }
}

/// Turns monotonic event timestamps into wall-clock time: one (wall, monotonic) pair read at start.
public struct WallClock: Sendable {
    let wallAtAnchor: UInt64
    let monotonicAtAnchor: UInt64

    public init() {
        var mono = timespec(), real = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        monotonicAtAnchor = UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec)
        wallAtAnchor = UInt64(real.tv_sec) * 1_000_000_000 + UInt64(real.tv_nsec)
    }

    /// Wall-clock nanoseconds since the epoch for a monotonic timestamp.
    func wallNanos(monotonic: UInt64) -> UInt64 {
        monotonic >= monotonicAtAnchor ? wallAtAnchor &+ (monotonic - monotonicAtAnchor) : wallAtAnchor &- (monotonicAtAnchor - monotonic)
    }
}
