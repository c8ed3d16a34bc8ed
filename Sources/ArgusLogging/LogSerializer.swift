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
        serialize(event, detail: detail, entities: EntityCache(config))
    }

    /// As ``serialize(_:detail:config:)``, with the config's entities already rendered.
    func serialize(_ event: RequestEvent, detail: RequestDetail?, entities: EntityCache) -> [UInt8] {
        var w = JSONWriter(capacity: 2048)
        let request = detail.map { HeadLines(Array($0.requestHead)) }
        let response = detail.map { HeadLines(Array($0.responseHead)) }
        w.openObject()

        w.key("request")
        w.openObject()
        w.key("id"); w.hex128(event.requestIDHigh, event.requestIDLow)
        let target = Array(request?.requestTarget ?? [])
        w.key("uri"); w.string(bytes: target)
        let host = request?.first("host").map { Self.stripPort(Array($0)) } ?? []
        var url = Array("http://".utf8) + host
        url += Array(":\(detail?.serverPort ?? 0)".utf8) + target
        w.key("url"); w.string(bytes: url)
        w.key("querystring"); Self.writeQuery(target, into: &w)
        w.key("method"); w.string(bytes: event.method == .other ? Array(request?.method ?? []) : Array(event.method.description.utf8))
        w.key("headers"); writeHeaders(request, redacting: true, into: &w)
        w.key("size"); w.integer(Int(event.requestBytes))
        w.closeObject()

        let proxied = event.upstreamSentAt != 0
        // The balancer ran (at least one try) even when no request reached an upstream.
        let tries = detail?.tries ?? []
        w.key("upstream_uri"); w.string(bytes: tries.isEmpty ? [] : detail?.upstreamTarget ?? [])
        let codes = tries.map(\.code).filter { $0 != 0 }.map(String.init)
        if !codes.isEmpty {
            w.key("upstream_status"); w.string(text: codes.joined(separator: ", "))
        } else if proxied {
            w.key("upstream_status"); w.string(text: String(event.status))
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
                w.key("ip"); w.string(text: t.host)
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

        w.key("client_ip"); w.string(text: Self.addressText(event))
        w.key("started_at"); w.integer(Int(clock.wallNanos(monotonic: event.receivedAt) / 1_000_000))
        w.key("source"); w.string(event.source == .upstream ? "upstream" : "kong")
        if event.service >= 0 && Int(event.service) < entities.services.count {
            w.key("service"); w.raw(entities.services[Int(event.service)])
        }
        if event.route >= 0 && Int(event.route) < entities.routes.count {
            w.key("route"); w.raw(entities.routes[Int(event.route)])
        }
        if event.consumer >= 0 && Int(event.consumer) < entities.consumers.count {
            w.key("consumer"); w.raw(entities.consumers[Int(event.consumer)])
            if let credential = detail?.credentialID, !credential.isEmpty {
                w.key("authenticated_entity")
                w.openObject()
                w.key("id"); w.string(bytes: credential)
                w.key("consumer_id"); w.string(text: entities.config.consumers[Int(event.consumer)].id)
                w.closeObject()
            }
        }
        if let correlation = detail?.correlationID, !correlation.isEmpty {
            w.key("correlation_id"); w.string(bytes: correlation)
        }
        w.key("workspace"); w.string(text: EntityJSON.defaultWorkspaceID)
        w.key("workspace_name"); w.string("default")
        w.closeObject()
        return w.bytes
    }

    private func writeHeaders(_ head: HeadLines?, redacting: Bool, into w: inout JSONWriter) {
        w.openObject()
        guard let head else { w.closeObject(); return }
        let raw = head.raw
        // Lower-cased names in order of first appearance; repeated headers become arrays. Heads
        // have few headers (at most `maxHeaders`), so a linear search beats hashing.
        let fields = head.fields.prefix(maxHeaders)
        var names: [[UInt8]] = []
        names.reserveCapacity(fields.count)
        for field in fields { names.append(raw[field.name].map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }) }
        var done = [Bool](repeating: false, count: names.count)
        for i in names.indices where !done[i] {
            let name = names[i]
            w.key(bytes: name)
            if redacting && (name == Self.authorization || name == Self.proxyAuthorization) {
                for j in i..<names.count where names[j] == name { done[j] = true }
                w.string("REDACTED")
                continue
            }
            var repeats: [Int] = []
            for j in (i + 1)..<names.count where !done[j] && names[j] == name { repeats.append(j) }
            if repeats.isEmpty {
                w.string(bytes: raw[fields[fields.startIndex + i].value].prefix(maxHeaderValueBytes))
            } else {
                w.openArray()
                for j in [i] + repeats {
                    done[j] = true
                    w.string(bytes: raw[fields[fields.startIndex + j].value].prefix(maxHeaderValueBytes))
                }
                w.closeArray()
            }
        }
        w.closeObject()
    }

    private static let authorization = Array("authorization".utf8)
    private static let proxyAuthorization = Array("proxy-authorization".utf8)

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
            w.key(bytes: name)
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

/// The lines of a raw HTTP head: the start line and `name: value` fields, as ranges into the bytes
/// (already validated by the proxy's parser; a truncated last line is dropped).
struct HeadLines {
    struct Field {
        var name: Range<Int>
        var value: Range<Int>
    }

    let raw: [UInt8]
    var startLine: Range<Int> = 0..<0
    var fields: [Field] = []

    init(_ raw: [UInt8]) {
        self.raw = raw
        var start = 0, i = 0, first = true
        while i + 1 < raw.count {
            guard raw[i] == 13 && raw[i + 1] == 10 else { i += 1; continue }
            let line = start..<i
            start = i + 2
            i += 2
            if first {
                startLine = line
                first = false
                continue
            }
            if line.isEmpty { break }
            guard let colon = raw[line].firstIndex(of: UInt8(ascii: ":")) else { continue }
            var lower = colon + 1, upper = line.upperBound
            while lower < upper, raw[lower] == 32 || raw[lower] == 9 { lower += 1 }
            while upper > lower, raw[upper - 1] == 32 || raw[upper - 1] == 9 { upper -= 1 }
            fields.append(Field(name: line.lowerBound..<colon, value: lower..<upper))
        }
    }

    /// The second word of the start line (a request's target).
    var requestTarget: ArraySlice<UInt8> {
        let line = raw[startLine]
        guard let a = line.firstIndex(of: 32) else { return [] }
        let rest = line[(a + 1)...]
        return rest[..<(rest.firstIndex(of: 32) ?? rest.endIndex)]
    }

    var method: ArraySlice<UInt8> {
        let line = raw[startLine]
        return line[..<(line.firstIndex(of: 32) ?? line.endIndex)]
    }

    /// The first value of a header (name compared without case).
    func first(_ lowercasedName: String) -> ArraySlice<UInt8>? {
        let wanted = Array(lowercasedName.utf8)
        for field in fields where field.name.count == wanted.count
            && zip(raw[field.name], wanted).allSatisfy({ ($0 | 0x20) == $1 }) {
            return raw[field.value]
        }
        return nil
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
