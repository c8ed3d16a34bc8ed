import ArgusConfig
import ArgusEvents
import ArgusTracing

/// A traced request's spans as Zipkin v2 JSON, as Kong's `zipkin` plugin reports them, written off
/// the event loops from the request's event and details:
/// - the request span (`SERVER`, named by the method, or method and path): the client as remote
///   endpoint, Kong's `lc`, `http.*`, `kong.consumer`, `kong.credential`, `kong.node.id` tags, the
///   static and request (`Zipkin-Tags`) tags, the `krs`/`krf` annotations;
/// - the proxy span (`CLIENT`, "… (proxy)"), the span the upstream saw as its parent: the service
///   and route tags, the last target as remote endpoint, the `kas`/`kaf`/`khs`/`khf`/`kbs`/`kbf`
///   annotations (or duration tags);
/// - one balancer span per try (`CLIENT`, "… (balancer try n)"), failed tries tagged `error`.
///
/// The spans of one request are one record: comma-separated items of the batch's JSON array.
struct ZipkinSpanEncoder {
    let clock: WallClock
    let nodeID: String

    /// A span's tags in the order they were set, a later value of a name replacing the earlier.
    struct Tags {
        var items: [(String, String)] = []

        mutating func set(_ name: String, _ value: String) {
            if let k = items.firstIndex(where: { $0.0 == name }) { items[k].1 = value } else { items.append((name, value)) }
        }
    }

    /// Where a span's remote endpoint points.
    struct Endpoint {
        var serviceName: String?
        var address: UnsafeRawBufferPointer?
        var port: Int?
    }

    /// Every service's and route's tags (`kong.service`, `kong.service_name`, `kong.route`,
    /// `kong.route_name`) of one config version, rendered once as object members.
    struct Entities: Sendable {
        let services: [[UInt8]]
        let routes: [[UInt8]]

        init(_ config: DeclarativeConfig) {
            func members(_ pairs: [(StaticString, String?)]) -> [UInt8] {
                var w = JSONWriter(capacity: 160)
                for (name, value) in pairs {
                    guard let value, !value.isEmpty else { continue }  // Zipkin's tag values are non-empty strings
                    w.key(name)
                    w.string(text: value)
                }
                return w.bytes
            }
            services = config.services.map { members([("kong.service", $0.id), ("kong.service_name", $0.name)]) }
            routes = config.routes.map { members([("kong.route", $0.id), ("kong.route_name", $0.name)]) }
        }
    }

    /// What follows the request's name in a span's name.
    private enum NameSuffix {
        case none, proxy
        case balancerTry(Int)
    }

    func encode(
        _ event: RequestEvent, _ parts: RequestDetail.Parts, _ ids: RequestDetail.TraceIDs, _ request: HeadLines,
        options: ZipkinOptions, config: DeclarativeConfig, entities: Entities, into w: inout JSONWriter
    ) {
        let received = micros(event.receivedAt)
        let completed = max(micros(event.completedAt), received)
        let method = event.method == .other ? String(decoding: request.method, as: UTF8.self) : event.method.description
        let target = request.requestTarget
        let path = target.firstIndex(of: UInt8(ascii: "?")).map { UnsafeRawBufferPointer(rebasing: target[..<$0]) } ?? target
        let name = options.pathInName ? method + " " + String(decoding: path, as: UTF8.self) : method
        let serviceIndex = event.service >= 0 && Int(event.service) < config.services.count ? Int(event.service) : nil
        let routeIndex = event.route >= 0 && Int(event.route) < config.routes.count ? Int(event.route) : nil
        let service = serviceIndex.map { config.services[$0] }
        var tries: [RequestDetail.Parts.TryView] = []
        tries.reserveCapacity(parts.tryCount)
        parts.forEachTry { tries.append($0) }

        // the request span
        var headerValues: [String] = []
        for i in request.fields.indices where Self.sameName(request.name(i), options.tagsHeader) {
            headerValues.append(String(decoding: request.value(i, limit: Int.max), as: UTF8.self))
        }
        let host = request.first("host").map { LogSerializer.stripPort($0) }
        let consumer = event.consumer >= 0 && Int(event.consumer) < config.consumers.count ? config.consumers[Int(event.consumer)].id : nil
        let credential = options.includeCredential && parts.credentialID.count > 0 ? parts.credentialID : nil
        let requestTags: (inout JSONWriter) -> Void
        if options.staticTags.isEmpty && headerValues.isEmpty {
            // Kong's own tags only: no name can repeat, written as they come
            requestTags = { w in
                w.key("lc"); w.string("kong")
                Self.tag(&w, "http.method", method)
                if let host, host.count > 0 { w.key("http.host"); w.string(bytes: host) }
                if path.count > 0 { w.key("http.path"); w.string(bytes: path) }
                w.key("http.protocol"); w.string(Self.protocolLiteral(event.httpVersion))
                if options.durationTags { w.key("kong.rewrite.duration_ms"); w.string("0") }
                Self.tag(&w, "http.status_code", String(event.status))
                if let consumer { Self.tag(&w, "kong.consumer", consumer) }
                if let credential { w.key("kong.credential"); w.string(bytes: credential) }
                Self.tag(&w, "kong.node.id", nodeID)
            }
        } else {
            // static and request tags may name Kong's own: a later value replaces the earlier
            var tags = Tags()
            tags.set("lc", "kong")
            tags.set("http.method", method)
            if let host { tags.set("http.host", String(decoding: host, as: UTF8.self)) }
            tags.set("http.path", String(decoding: path, as: UTF8.self))
            tags.set("http.protocol", Self.protocolName(event.httpVersion))
            for (tagName, value) in options.staticTags { tags.set(tagName, value) }
            if !headerValues.isEmpty {
                for (tagName, value) in ZipkinRequestTags.parse(headerValues).tags { tags.set(tagName, value) }
            }
            if options.durationTags { tags.set("kong.rewrite.duration_ms", "0") }
            tags.set("http.status_code", String(event.status))
            if let consumer { tags.set("kong.consumer", consumer) }
            if let credential { tags.set("kong.credential", String(decoding: credential, as: UTF8.self)) }
            tags.set("kong.node.id", nodeID)
            requestTags = { w in
                for (tagName, value) in tags.items where !value.isEmpty {
                    w.key(text: tagName)
                    w.string(text: value)
                }
            }
        }
        SpanEncoder.withAddressText(event) { client in
            span(w: &w, ids, id: ids.spanID, parent: ids.parentSpanID, name: name, .none, kind: "SERVER", start: received, end: completed,
                 options: options, remote: Endpoint(serviceName: options.defaultServiceName, address: client, port: Int(event.clientPort)),
                 hasTags: true, tags: requestTags, hasAnnotations: !options.durationTags) { w in
                Self.annotation(&w, "krs", received)
                Self.annotation(&w, "krf", received)
            }
        }

        // service and route tags, on the proxy and balancer spans (Kong's `tag_with_service_and_route`)
        let serviceTags = serviceIndex.map { entities.services[$0] } ?? []
        let routeTags = routeIndex.map { entities.routes[$0] } ?? []
        let serviceName = service?.name ?? options.defaultServiceName

        // the proxy span: from the access phase to the response's end
        let accessEnd = tries.first.map { micros($0.startedAt) } ?? (event.upstreamSentAt != 0 ? micros(event.upstreamSentAt) : completed)
        let headers = event.upstreamFirstByteAt != 0 ? micros(event.upstreamFirstByteAt) : completed
        let peer = !tries.isEmpty ? service?.host : nil
        let last = tries.last
        span(w: &w, ids, id: ids.upstreamSpanID, parent: ids.spanID, name: name, .proxy, kind: "CLIENT", start: received, end: completed,
             options: options, remote: Endpoint(serviceName: serviceName, address: last?.host, port: last?.port),
             hasTags: !serviceTags.isEmpty || !routeTags.isEmpty || !(peer ?? "").isEmpty || options.durationTags,
             tags: { w in
                w.members(serviceTags)
                w.members(routeTags)
                if let peer { Self.tag(&w, "peer.hostname", peer) }
                if options.durationTags {
                    w.key("kong.access.duration_ms"); w.string(text: Self.millis(accessEnd &- received))
                    w.key("kong.header_filter.duration_ms"); w.string("0")
                    w.key("kong.body_filter.duration_ms"); w.string(text: Self.millis(completed &- headers))
                }
             },
             hasAnnotations: !options.durationTags) { w in
            Self.annotation(&w, "kas", received)
            Self.annotation(&w, "kaf", max(accessEnd, received))
            Self.annotation(&w, "khs", max(headers, received))
            Self.annotation(&w, "khf", max(headers, received))
            Self.annotation(&w, "kbs", max(headers, received))
            Self.annotation(&w, "kbf", completed)
        }

        // one span per balancer try
        for (i, t) in tries.enumerated() {
            let isLast = i == tries.count - 1
            let start = t.startedAt != 0 ? micros(t.startedAt) : received
            let end = isLast
                ? (event.upstreamSentAt != 0 ? micros(event.upstreamSentAt) : completed)
                : (tries[i + 1].startedAt != 0 ? micros(tries[i + 1].startedAt) : completed)
            span(w: &w, ids, id: SpanEncoder.trySpanID(ids.upstreamSpanID, i), parent: ids.spanID, name: name, .balancerTry(i + 1),
                 kind: "CLIENT", start: start, end: max(end, start), options: options,
                 remote: Endpoint(serviceName: serviceName, address: t.host, port: t.port), hasTags: true,
                 tags: { w in
                    w.key("kong.balancer.try"); w.string(text: String(i + 1))
                    if !isLast {
                        w.key("error"); w.string("true")
                        w.key("kong.balancer.state"); w.string("failed")
                        if t.code != 0 { w.key("http.status_code"); w.string(text: String(t.code)) }
                    }
                    w.members(serviceTags)
                    w.members(routeTags)
                 },
                 hasAnnotations: false) { _ in }
        }
    }

    private static func tag(_ w: inout JSONWriter, _ name: StaticString, _ value: String) {
        guard !value.isEmpty else { return }
        w.key(name)
        w.string(text: value)
    }

    private static func annotation(_ w: inout JSONWriter, _ value: StaticString, _ timestamp: UInt64) {
        w.openObject()
        w.key("value"); w.string(value)
        w.key("timestamp"); w.integer(Int(timestamp))
        w.closeObject()
    }

    /// One span object.
    private func span(
        w: inout JSONWriter, _ ids: RequestDetail.TraceIDs, id: UInt64, parent: UInt64, name: String, _ suffix: NameSuffix,
        kind: StaticString, start: UInt64, end: UInt64, options: ZipkinOptions, remote: Endpoint,
        hasTags: Bool, tags: (inout JSONWriter) -> Void, hasAnnotations: Bool, annotations: (inout JSONWriter) -> Void
    ) {
        w.openObject()
        w.key("traceId")
        // the trace id at its width: 16 digits for a client's 64-bit id or a short one started here
        // (Kong pads a client's to 32; Zipkin reads a zero high half as the same 64-bit id)
        if ids.originalSize == 8 || (ids.originalSize == 0 && ids.traceHigh == 0) {
            w.hex64(ids.traceLow)
        } else {
            w.hex128(ids.traceHigh, ids.traceLow)
        }
        w.key("name")
        w.openString()
        var name = name
        name.withUTF8 { w.stringPiece(UnsafeRawBufferPointer($0)) }
        switch suffix {
        case .none: break
        case .proxy: Self.piece(&w, " (proxy)")
        case .balancerTry(let n):
            Self.piece(&w, " (balancer try ")
            var number = String(n)
            number.withUTF8 { w.stringPiece(UnsafeRawBufferPointer($0)) }
            Self.piece(&w, ")")
        }
        w.closeString()
        if parent != 0 { w.key("parentId"); w.hex64(parent) }
        w.key("id"); w.hex64(id)
        w.key("kind"); w.string(kind)
        w.key("timestamp"); w.integer(Int(start))
        // Zipkin rounds a duration below one microsecond up
        w.key("duration"); w.integer(max(1, Int(end &- start)))
        w.key("localEndpoint")
        w.raw(options.localEndpoint)
        if remote.port != nil || remote.serviceName != nil {
            w.key("remoteEndpoint")
            w.openObject()
            if let serviceName = remote.serviceName { w.key("serviceName"); w.string(text: serviceName) }
            if let port = remote.port { w.key("port"); w.integer(port) }
            // an address literal only (a target named by a host name has no ipv4/ipv6)
            if let address = remote.address, address.count > 0 {
                if address.contains(UInt8(ascii: ":")) {
                    w.key("ipv6"); w.string(bytes: address)
                } else if address.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }) {
                    w.key("ipv4"); w.string(bytes: address)
                }
            }
            w.closeObject()
        }
        if hasTags {
            w.key("tags")
            w.openObject()
            tags(&w)
            w.closeObject()
        }
        if hasAnnotations {
            w.key("annotations")
            w.openArray()
            annotations(&w)
            w.closeArray()
        }
        w.closeObject()
    }

    private static func piece(_ w: inout JSONWriter, _ text: StaticString) {
        text.withUTF8Buffer { w.stringPiece(UnsafeRawBufferPointer($0)) }
    }

    private func micros(_ monotonic: UInt64) -> UInt64 { clock.wallNanos(monotonic: monotonic) / 1000 }

    /// ``protocolName(_:)`` as a literal.
    static func protocolLiteral(_ version: UInt8) -> StaticString {
        switch version {
        case 10: return "HTTP/1.0"
        case 20: return "HTTP/2"
        default: return "HTTP/1.1"
        }
    }

    /// Kong's `http.protocol`: `HTTP/` and the request's version.
    static func protocolName(_ version: UInt8) -> String {
        switch version {
        case 10: return "HTTP/1.0"
        case 20: return "HTTP/2"
        default: return "HTTP/1.1"
        }
    }

    /// Microseconds as Kong's millisecond duration tags (an integer).
    static func millis(_ micros: UInt64) -> String { String(micros / 1000) }

    /// A header name equals a lower-case name, ASCII case ignored.
    static func sameName(_ a: UnsafeRawBufferPointer, _ lowercased: [UInt8]) -> Bool {
        lowercased.withUnsafeBytes { HeadLines.sameName(a, $0) }
    }
}
