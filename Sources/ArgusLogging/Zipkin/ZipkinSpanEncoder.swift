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

    func encode(
        _ event: RequestEvent, _ parts: RequestDetail.Parts, _ ids: RequestDetail.TraceIDs, _ request: HeadLines,
        options: ZipkinOptions, config: DeclarativeConfig, into w: inout JSONWriter
    ) {
        let received = micros(event.receivedAt)
        let completed = max(micros(event.completedAt), received)
        let method = event.method == .other ? String(decoding: request.method, as: UTF8.self) : event.method.description
        let target = request.requestTarget
        let path = target.firstIndex(of: UInt8(ascii: "?")).map { UnsafeRawBufferPointer(rebasing: target[..<$0]) } ?? target
        let name = options.pathInName ? method + " " + String(decoding: path, as: UTF8.self) : method
        let service = event.service >= 0 && Int(event.service) < config.services.count ? config.services[Int(event.service)] : nil
        let route = event.route >= 0 && Int(event.route) < config.routes.count ? config.routes[Int(event.route)] : nil
        var tries: [RequestDetail.Parts.TryView] = []
        tries.reserveCapacity(parts.tryCount)
        parts.forEachTry { tries.append($0) }

        // the request span
        var tags = Tags()
        tags.set("lc", "kong")
        tags.set("http.method", method)
        if let host = request.first("host") { tags.set("http.host", String(decoding: LogSerializer.stripPort(host), as: UTF8.self)) }
        tags.set("http.path", String(decoding: path, as: UTF8.self))
        tags.set("http.protocol", Self.protocolName(event.httpVersion))
        for (tagName, value) in options.staticTags { tags.set(tagName, value) }
        var headerValues: [String] = []
        for i in request.fields.indices where Self.sameName(request.name(i), options.tagsHeader) {
            headerValues.append(String(decoding: request.value(i, limit: Int.max), as: UTF8.self))
        }
        if !headerValues.isEmpty {
            for (tagName, value) in ZipkinRequestTags.parse(headerValues).tags { tags.set(tagName, value) }
        }
        if options.durationTags { tags.set("kong.rewrite.duration_ms", "0") }
        tags.set("http.status_code", String(event.status))
        if event.consumer >= 0, Int(event.consumer) < config.consumers.count { tags.set("kong.consumer", config.consumers[Int(event.consumer)].id) }
        if options.includeCredential, parts.credentialID.count > 0 {
            tags.set("kong.credential", String(decoding: parts.credentialID, as: UTF8.self))
        }
        tags.set("kong.node.id", nodeID)
        var client: [UInt8] = []
        SpanEncoder.withAddressText(event) { client = Array($0) }
        client.withUnsafeBytes { client in
            span(w: &w, ids, id: ids.spanID, parent: ids.parentSpanID, name: name, kind: "SERVER", start: received, end: completed,
                 options: options, remote: Endpoint(serviceName: options.defaultServiceName, address: client, port: Int(event.clientPort)),
                 tags: tags, annotations: options.durationTags ? [] : [("krs", received), ("krf", received)])
        }

        // service and route tags, on the proxy and balancer spans (Kong's `tag_with_service_and_route`)
        var entityTags = Tags()
        if let service {
            entityTags.set("kong.service", service.id)
            if let serviceName = service.name { entityTags.set("kong.service_name", serviceName) }
        }
        if let route {
            entityTags.set("kong.route", route.id)
            if let routeName = route.name { entityTags.set("kong.route_name", routeName) }
        }
        let serviceName = service?.name ?? options.defaultServiceName

        // the proxy span: from the access phase to the response's end
        let accessEnd = tries.first.map { micros($0.startedAt) } ?? (event.upstreamSentAt != 0 ? micros(event.upstreamSentAt) : completed)
        let headers = event.upstreamFirstByteAt != 0 ? micros(event.upstreamFirstByteAt) : completed
        var proxyTags = entityTags
        if !tries.isEmpty, let service { proxyTags.set("peer.hostname", service.host) }
        if options.durationTags {
            proxyTags.set("kong.access.duration_ms", Self.millis(accessEnd &- received))
            proxyTags.set("kong.header_filter.duration_ms", "0")
            proxyTags.set("kong.body_filter.duration_ms", Self.millis(completed &- headers))
        }
        let last = tries.last
        span(w: &w, ids, id: ids.upstreamSpanID, parent: ids.spanID, name: name + " (proxy)", kind: "CLIENT", start: received, end: completed,
             options: options, remote: Endpoint(serviceName: serviceName, address: last?.host, port: last?.port), tags: proxyTags,
             annotations: options.durationTags ? [] : [
                ("kas", received), ("kaf", max(accessEnd, received)), ("khs", max(headers, received)), ("khf", max(headers, received)),
                ("kbs", max(headers, received)), ("kbf", completed),
             ])

        // one span per balancer try
        for (i, t) in tries.enumerated() {
            var tryTags = Tags()
            tryTags.set("kong.balancer.try", String(i + 1))
            let isLast = i == tries.count - 1
            if !isLast {
                tryTags.set("error", "true")
                tryTags.set("kong.balancer.state", "failed")
                if t.code != 0 { tryTags.set("http.status_code", String(t.code)) }
            }
            for (tagName, value) in entityTags.items { tryTags.set(tagName, value) }
            let start = t.startedAt != 0 ? micros(t.startedAt) : received
            let end = isLast
                ? (event.upstreamSentAt != 0 ? micros(event.upstreamSentAt) : completed)
                : (tries[i + 1].startedAt != 0 ? micros(tries[i + 1].startedAt) : completed)
            span(w: &w, ids, id: SpanEncoder.trySpanID(ids.upstreamSpanID, i), parent: ids.spanID, name: name + " (balancer try \(i + 1))",
                 kind: "CLIENT", start: start, end: max(end, start), options: options,
                 remote: Endpoint(serviceName: serviceName, address: t.host, port: t.port), tags: tryTags, annotations: [])
        }
    }

    /// One span object.
    private func span(
        w: inout JSONWriter, _ ids: RequestDetail.TraceIDs, id: UInt64, parent: UInt64, name: String, kind: StaticString, start: UInt64,
        end: UInt64, options: ZipkinOptions, remote: Endpoint, tags: Tags, annotations: [(String, UInt64)]
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
        w.key("name"); w.string(text: name)
        if parent != 0 { w.key("parentId"); w.hex64(parent) }
        w.key("id"); w.hex64(id)
        w.key("kind"); w.string(kind)
        w.key("timestamp"); w.integer(Int(start))
        // Zipkin rounds a duration below one microsecond up
        w.key("duration"); w.integer(max(1, Int(end &- start)))
        w.key("localEndpoint")
        w.openObject()
        w.key("serviceName"); w.string(text: options.localServiceName)
        w.closeObject()
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
        // Zipkin's tag values are non-empty strings
        let kept = tags.items.filter { !$0.1.isEmpty }
        if !kept.isEmpty {
            w.key("tags")
            w.openObject()
            for (tagName, value) in kept {
                w.key(text: tagName)
                w.string(text: value)
            }
            w.closeObject()
        }
        if !annotations.isEmpty {
            w.key("annotations")
            w.openArray()
            for (value, timestamp) in annotations {
                w.openObject()
                w.key("value"); w.string(text: value)
                w.key("timestamp"); w.integer(Int(timestamp))
                w.closeObject()
            }
            w.closeArray()
        }
        w.closeObject()
    }

    private func micros(_ monotonic: UInt64) -> UInt64 { clock.wallNanos(monotonic: monotonic) / 1000 }

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
