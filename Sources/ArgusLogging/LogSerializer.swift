import ArgusConfig
import ArgusEvents
import ArgusTracing
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
    /// Most query arguments kept in `querystring` (Kong's `lua_max_uri_args` = 100).
    public var maxQueryArgs = 100
    let clock: WallClock

    public init(clock: WallClock = WallClock()) {
        self.clock = clock
    }

    /// The record for `event`. `detail` is nil when the details were lost (the sink fell too far
    /// behind): the record then has what the event holds, and `request.headers` etc. are empty.
    public func serialize(_ event: RequestEvent, detail: RequestDetail?, config: DeclarativeConfig) -> [UInt8] {
        serialize(event, detail: detail, entities: EntityCache(config))
    }

    /// As ``serialize(_:detail:config:)``, with the config's entities already rendered. The
    /// details go through the arena's encoding first, so they are cut as the data path cuts them
    /// (heads to 16 KiB, 16 tries, ids to 255 bytes).
    public func serialize(_ event: RequestEvent, detail: RequestDetail?, entities: EntityCache) -> [UInt8] {
        let scratch = LogScratch()
        guard let detail else { return serialize(event, encodedDetail: nil, entities: entities, scratch: scratch) { r, _ in Array(r) } }
        var encoded: [UInt8] = []
        detail.requestHead.withUnsafeBytes { request in
            detail.upstreamTarget.withUnsafeBytes { target in
                detail.responseHead.withUnsafeBytes { response in
                    RequestDetail.encode(
                        requestHead: request, upstreamTarget: target, responseHead: response, tries: detail.tries,
                        serverPort: detail.serverPort, credentialID: String(decoding: detail.credentialID, as: UTF8.self),
                        correlationID: String(decoding: detail.correlationID, as: UTF8.self), into: &encoded)
                }
            }
        }
        return encoded.withUnsafeBytes { serialize(event, encodedDetail: $0, entities: entities, scratch: scratch) { r, _ in Array(r) } }
    }

    /// The record for `event` built in `scratch` (replacing the previous one), handed to `body`
    /// while valid, with whether it had the request's details. `encodedDetail` is the details as
    /// the ring's arena holds them (nil, or not a whole encoding: lost). What the log exporter
    /// calls per record: no allocation once the scratch memory has grown to fit.
    public func serialize<R>(
        _ event: RequestEvent, encodedDetail: UnsafeRawBufferPointer?, entities: EntityCache, scratch: LogScratch,
        _ body: (_ record: UnsafeRawBufferPointer, _ withDetail: Bool) -> R
    ) -> R {
        scratch.writer.reset()
        if let encodedDetail, let parts = RequestDetail.Parts(encodedDetail) {
            let request = HeadLines(parts.requestHead, reusing: scratch.takeFields())
            let response = HeadLines(parts.responseHead, reusing: scratch.takeFields())
            write(event, parts, request, response, parts.upstreamTarget, entities, into: &scratch.writer)
            scratch.giveBack(request.fields)
            scratch.giveBack(response.fields)
            return body(scratch.writer.written, true)
        }
        write(event, nil, nil, nil, UnsafeRawBufferPointer(start: nil, count: 0), entities, into: &scratch.writer)
        return body(scratch.writer.written, false)
    }

    private func write(
        _ event: RequestEvent, _ detail: RequestDetail.Parts?, _ request: HeadLines?, _ response: HeadLines?,
        _ upstreamTarget: UnsafeRawBufferPointer, _ entities: EntityCache, into w: inout JSONWriter
    ) {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        w.openObject()

        w.key("request")
        w.openObject()
        w.key("id"); w.hex128(event.requestIDHigh, event.requestIDLow)
        let target = request?.requestTarget ?? empty
        w.key("uri"); w.string(bytes: target)
        w.key("url")
        w.openString()
        w.stringPiece(event.transport & ClientTransport.tls != 0 ? "https://" : "http://")
        if let host = request?.first(Self.host) { w.stringPiece(Self.stripPort(host)) }
        w.stringPiece(":")
        w.stringPiece(digits: detail?.serverPort ?? 0)
        w.stringPiece(target)
        w.closeString()
        w.key("querystring"); writeQuery(target, into: &w)
        w.key("method")
        if event.method == .other {
            w.string(bytes: request?.method ?? empty)
        } else {
            w.string(text: event.method.description)
        }
        w.key("headers"); writeHeaders(request, redacting: true, into: &w)
        w.key("size"); w.integer(Int(event.requestBytes))
        if let detail, detail.tlsVersion.count > 0 {
            w.key("tls")
            w.openObject()
            w.key("version"); w.string(bytes: detail.tlsVersion)
            w.key("cipher"); w.string(bytes: detail.tlsCipher)
            w.key("client_verify"); w.string(text: "NONE")
            w.closeObject()
        }
        w.closeObject()

        let proxied = event.upstreamSentAt != 0
        // The balancer ran (at least one try) even when no request reached an upstream.
        let tryCount = detail?.tryCount ?? 0
        w.key("upstream_uri"); w.string(bytes: tryCount == 0 ? empty : upstreamTarget)
        if let detail, detail.anyTryHasCode {
            w.key("upstream_status")
            w.openString()
            var first = true
            detail.forEachTry { t in
                guard t.code != 0 else { return }
                if !first { w.stringPiece(", ") }
                first = false
                w.stringPiece(digits: Int(t.code))
            }
            w.closeString()
        } else if proxied {
            w.key("upstream_status")
            w.openString()
            w.stringPiece(digits: Int(event.status))
            w.closeString()
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

        if let detail, tryCount > 0 {
            w.key("tries")
            w.openArray()
            detail.forEachTry { t in
                w.openObject()
                w.key("ip"); w.string(bytes: t.host)
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

        w.key("client_ip"); Self.writeAddress(event, into: &w)
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
        if let status = detail?.grpcStatus {
            // (Argus's own: Kong's record has no gRPC status)
            w.key("grpc")
            w.openObject()
            w.key("status"); w.integer(status)
            w.closeObject()
        }
        if let correlation = detail?.correlationID, !correlation.isEmpty {
            w.key("correlation_id"); w.string(bytes: correlation)
        }
        if let trace = detail?.trace, trace.injected != 0 {
            // opentelemetry's injected trace id per format (Kong's `trace_id` serialize value)
            w.key("trace_id")
            w.openObject()
            for format in PropagationFormat.allCases where trace.injected & format.bit != 0 {
                // b3 and b3-single share Kong's key `b3`: written once
                if format == .b3Single, trace.injected & PropagationFormat.b3.bit != 0 { continue }
                let (key, value) = TraceInjector.formattedTraceID(trace, format)
                w.key(text: key); w.string(text: value)
            }
            w.closeObject()
        }
        w.key("workspace"); w.string(text: EntityJSON.defaultWorkspaceID)
        w.key("workspace_name"); w.string("default")
        w.closeObject()
    }

    /// A head's fields as an object: names lower-cased, in order of first appearance, a repeated
    /// name's values as an array; at most `maxHeaders` fields and `maxHeaderValueBytes` per value.
    /// Heads have few headers, so names are compared in place (no hashing, no copies).
    private func writeHeaders(_ head: HeadLines?, redacting: Bool, into w: inout JSONWriter) {
        w.openObject()
        guard let head else { w.closeObject(); return }
        let count = min(head.fields.count, maxHeaders)
        // Repeated names are found by comparing a fold of each name first (no pairwise
        // case-insensitive comparison of every two names).
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(count, 1)) { keys in
            for i in 0..<count { keys[i] = Self.nameKey(head.name(i)) }
            func same(_ a: Int, _ b: Int) -> Bool { keys[a] == keys[b] && HeadLines.sameName(head.name(a), head.name(b)) }
            for i in 0..<count {
                if (0..<i).contains(where: { same($0, i) }) { continue }  // written with the first
                let name = head.name(i)
                w.key(lowercasing: name)
                if redacting && (HeadLines.sameName(name, Self.authorization) || HeadLines.sameName(name, Self.proxyAuthorization)) {
                    w.string("REDACTED")
                    continue
                }
                let repeated = ((i + 1)..<count).contains { same($0, i) }
                if !repeated {
                    w.string(bytes: head.value(i, limit: maxHeaderValueBytes))
                } else {
                    w.openArray()
                    for j in i..<count where same(j, i) {
                        w.string(bytes: head.value(j, limit: maxHeaderValueBytes))
                    }
                    w.closeArray()
                }
            }
        }
        w.closeObject()
    }

    /// A fold of a header name that names equal but for ASCII case share (FNV-1a over the bytes
    /// with bit 5 set).
    static func nameKey(_ name: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name { h = (h ^ UInt64(b | 0x20)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    private static let authorization: StaticString = "authorization"
    private static let proxyAuthorization: StaticString = "proxy-authorization"
    private static let host: StaticString = "host"

    /// Kong's `querystring`: `a=1&b&c=2&c=3` → `{"a":"1","b":true,"c":["2","3"]}`, percent-decoded;
    /// at most `maxQueryArgs` arguments (Kong's `lua_max_uri_args`, 100). Names in order of first
    /// appearance, compared decoded, found by a linear search over the few arguments (no hashing,
    /// no copies).
    func writeQuery(_ target: UnsafeRawBufferPointer, into w: inout JSONWriter) {
        w.openObject()
        defer { w.closeObject() }
        guard let q = target.firstIndex(of: UInt8(ascii: "?")), q + 1 < target.count else { return }
        let query = UnsafeRawBufferPointer(rebasing: target[(q + 1)...])
        let limit = max(0, maxQueryArgs)
        withUnsafeTemporaryAllocation(of: QueryArgument.self, capacity: limit) { args in
            var count = 0
            var segments = 0  // like Kong's, the cap counts every `&`-separated part, kept or not
            var start = 0
            while start < query.count && segments < limit {
                var end = start
                while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
                var eq = start
                while eq < end && query[eq] != UInt8(ascii: "=") { eq += 1 }
                if eq > start {  // an empty name is skipped
                    args.initializeElement(at: count, to: QueryArgument(name: start..<eq, value: eq < end ? (eq + 1)..<end : nil))
                    count += 1
                }
                segments += 1
                start = end + 1
            }
            func name(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: query[args[i].name]) }
            func writeValue(_ i: Int) {
                if let value = args[i].value {
                    w.openString()
                    w.stringPiece(percentDecoding: UnsafeRawBufferPointer(rebasing: query[value]))
                    w.closeString()
                } else {
                    w.bool(true)
                }
            }
            for i in 0..<count {
                if (0..<i).contains(where: { Self.sameDecoded(name($0), name(i)) }) { continue }  // written with the first
                let repeated = ((i + 1)..<count).contains { Self.sameDecoded(name($0), name(i)) }
                w.openKey()
                w.stringPiece(percentDecoding: name(i))
                w.closeKey()
                if !repeated {
                    writeValue(i)
                } else {
                    w.openArray()
                    for j in i..<count where j == i || Self.sameDecoded(name(j), name(i)) { writeValue(j) }
                    w.closeArray()
                }
            }
        }
    }

    struct QueryArgument {
        var name: Range<Int>
        var value: Range<Int>?
    }

    /// Whether two URL-encoded strings decode to the same bytes.
    static func sameDecoded(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        if a.elementsEqual(b) { return true }
        var i = 0, j = 0
        func next(_ x: UnsafeRawBufferPointer, _ k: inout Int) -> UInt8 {
            let c = x[k]
            if c == UInt8(ascii: "%"), k + 2 < x.count, let h = JSONWriter.hexValue(x[k + 1]), let l = JSONWriter.hexValue(x[k + 2]) {
                k += 3
                return h << 4 | l
            }
            k += 1
            return c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c
        }
        while i < a.count && j < b.count {
            if next(a, &i) != next(b, &j) { return false }
        }
        return i == a.count && j == b.count
    }

    /// A Host value without its port (`[v6]` kept whole).
    static func stripPort(_ host: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if host.first == UInt8(ascii: "["), let close = host.firstIndex(of: UInt8(ascii: "]")) {
            return UnsafeRawBufferPointer(rebasing: host[...close])
        }
        if let colon = host.firstIndex(of: UInt8(ascii: ":")) { return UnsafeRawBufferPointer(rebasing: host[..<colon]) }
        return host
    }

    /// The client address as a string value: dotted IPv4, or IPv6 (RFC 5952 compression of the
    /// longest zero run), written without intermediate Strings for IPv4.
    static func writeAddress(_ event: RequestEvent, into w: inout JSONWriter) {
        switch event.addressFamily {
        case .ipv4:
            let address = event.clientAddress.low  // the mapped IPv4 address is its last 32 bits
            w.openString()
            for shift in stride(from: 24, through: 0, by: -8) {
                if shift < 24 { w.stringPiece(".") }
                w.stringPiece(digits: Int((address >> UInt64(shift)) & 0xFF))
            }
            w.closeString()
        default:
            w.string(text: addressText(event))
        }
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
