/// The variable-size part of a request that log sinks need and a ``RequestEvent`` does not hold:
/// the request head as received, the request target sent upstream, the response head as sent to
/// the client, and every upstream try. Encoded by the data path into the ring's detail arena
/// (bytes copied as they are: no parsing, no Strings), decoded by the log exporters off the event
/// loops.
public struct RequestDetail: Sendable, Equatable {
    /// The raw request head (request line, header lines, empty line), possibly truncated.
    public var requestHead: [UInt8]
    /// The request target sent upstream (`/path?query`), empty if the request was not proxied.
    public var upstreamTarget: [UInt8]
    /// The raw response head sent to the client (status line and header lines), possibly truncated.
    public var responseHead: [UInt8]
    public var tries: [Try]
    /// The port of the listener the request arrived on (Kong's `server_port`, for `request.url`).
    public var serverPort: Int
    /// The id of the credential an authentication plugin accepted (Kong's `authenticated_entity`),
    /// empty if none.
    public var credentialID: [UInt8] = []
    /// correlation-id's value (the log record's `correlation_id`), empty if the plugin did not run.
    public var correlationID: [UInt8] = []
    /// A gRPC call's status (the upstream's `grpc-status`, or the gateway's), nil for other requests.
    public var grpcStatus: Int?
    /// The request's trace (a tracing plugin applied to it), nil otherwise.
    public var trace: TraceIDs?
    /// What the response spent of a `response-ratelimiting` instance's limits, nil if nothing.
    public var responseLimits: ResponseLimits?

    /// A response's spending of `response-ratelimiting` limits, counted after it by a consumer of
    /// the ring: the instance, the access phase's clock (the windows) and identifier, and each
    /// limit's increment (by the limit's index in the instance's plan).
    public struct ResponseLimits: Sendable, Equatable {
        public var plugin: Int16
        public var nowMs: Int64
        public var identifier: String
        public var increments: [Increment]

        public struct Increment: Sendable, Equatable {
            public var limit: UInt8
            public var value: Int64

            public init(limit: UInt8, value: Int64) {
                self.limit = limit
                self.value = value
            }
        }

        public init(plugin: Int16, nowMs: Int64, identifier: String, increments: [Increment]) {
            self.plugin = plugin
            self.nowMs = nowMs
            self.identifier = identifier
            self.increments = increments
        }
    }

    /// The ids a tracing plugin chose on the request path.
    public struct TraceIDs: Sendable, Equatable {
        public var traceHigh: UInt64
        public var traceLow: UInt64
        /// The client's span (the parent of the gateway's), 0 when the trace starts here.
        public var parentSpanID: UInt64
        /// The gateway's span for the request (Kong's root span, "kong").
        public var spanID: UInt64
        /// The span of the upstream call (Kong's balancer span of the last try), injected upstream.
        public var upstreamSpanID: UInt64
        public var sampled: Bool
        /// The tracing plugin instance (its index in the config's `plugins`).
        public var plugin: Int16
        /// The propagation formats injected upstream (a bit per format, in `ArgusTracing`'s
        /// `PropagationFormat.allCases` order), for the log record's `trace_id`.
        public var injected: UInt8 = 0
        /// The trace id's width in the client's format, in bytes (0: the trace started here).
        public var originalSize: UInt8 = 0

        public init(
            traceHigh: UInt64, traceLow: UInt64, parentSpanID: UInt64, spanID: UInt64, upstreamSpanID: UInt64, sampled: Bool,
            plugin: Int16
        ) {
            self.traceHigh = traceHigh
            self.traceLow = traceLow
            self.parentSpanID = parentSpanID
            self.spanID = spanID
            self.upstreamSpanID = upstreamSpanID
            self.sampled = sampled
            self.plugin = plugin
        }
    }

    /// One upstream attempt (Kong's `tries[]`).
    public struct Try: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// The status the attempt produced, 0 if none (connection failure).
        public var code: UInt16
        /// The attempt failed and the balancer moved on (Kong's `state: "failed"`).
        public var failed: Bool
        /// Monotonic nanoseconds when the balancer picked the target.
        public var startedAt: UInt64

        public init(host: String, port: Int, code: UInt16 = 0, failed: Bool = false, startedAt: UInt64 = 0) {
            self.host = host
            self.port = port
            self.code = code
            self.failed = failed
            self.startedAt = startedAt
        }
    }

    public init(
        requestHead: [UInt8] = [], upstreamTarget: [UInt8] = [], responseHead: [UInt8] = [], tries: [Try] = [], serverPort: Int = 0
    ) {
        self.serverPort = serverPort
        self.requestHead = requestHead
        self.upstreamTarget = upstreamTarget
        self.responseHead = responseHead
        self.tries = tries
    }

    /// Largest request or response head kept (the rest is cut; the sinks parse what is there).
    public static let maxHeadBytes = 16 * 1024
    /// Most tries kept.
    public static let maxTries = 16

    // Layout: u16 server port; u32 length + bytes, three times (request head, upstream target, response head); then
    // u8 try count, and per try: u8 host length, host, u16 port, u16 code, u8 failed, u64 start;
    // then u8 credential id length and its bytes; then u8 correlation id length and its bytes; then
    // the TLS facts (three such strings); then, when known, an i16 gRPC status (absent in
    // encodings made before it existed, which a spool may still hold; `Int16.min` when a trace
    // follows and there is no status); then, when traced, five u64 ids (trace high and low,
    // parent, span, upstream span), a u8 sampled flag, the i16 plugin index, the u8 injected
    // formats and the u8 original trace id width (all zeros with plugin `Int16.min` when untraced
    // and response limits follow); then, when a response spent `response-ratelimiting` limits,
    // the i16 plugin index, the i64 access clock (ms), the identifier (u8 length and bytes), a u8
    // count and per increment a u8 limit index and an i64 value.

    /// Appends the encoding of these parts to `out` (through a ``DetailEncoder``: the event loops
    /// keep one and encode into it directly).
    public static func encode(
        requestHead: UnsafeRawBufferPointer, upstreamTarget: UnsafeRawBufferPointer, responseHead: UnsafeRawBufferPointer,
        tries: [Try], serverPort: Int, credentialID: String? = nil, correlationID: String? = nil, tls: TLSFacts? = nil,
        grpcStatus: Int? = nil, trace: TraceIDs? = nil, responseLimits: ResponseLimits? = nil, into out: inout [UInt8]
    ) {
        let encoder = DetailEncoder(capacity: 512)
        encode(
            requestHead: requestHead, upstreamTarget: upstreamTarget, responseHead: responseHead, tries: tries, serverPort: serverPort,
            credentialID: credentialID, correlationID: correlationID, tls: tls, grpcStatus: grpcStatus, trace: trace,
            responseLimits: responseLimits, into: encoder)
        out.append(contentsOf: encoder.bytes)
    }

    /// The client connection's TLS session, for the log's `request.tls`.
    public struct TLSFacts: Sendable, Equatable {
        public var version: String
        public var cipher: String
        public var serverName: String?

        public init(version: String, cipher: String, serverName: String?) {
            self.version = version
            self.cipher = cipher
            self.serverName = serverName
        }
    }

    /// Decodes what ``encode(requestHead:upstreamTarget:responseHead:tries:serverPort:into:)`` wrote; nil if
    /// the bytes are not such an encoding (e.g. cut short).
    public static func decode(_ bytes: [UInt8]) -> RequestDetail? {
        bytes.withUnsafeBytes { raw in
            guard let parts = Parts(raw) else { return nil }
            var detail = RequestDetail(
                requestHead: Array(parts.requestHead), upstreamTarget: Array(parts.upstreamTarget),
                responseHead: Array(parts.responseHead), serverPort: parts.serverPort)
            parts.forEachTry { t in
                detail.tries.append(Try(host: String(decoding: t.host, as: UTF8.self), port: t.port, code: t.code,
                                        failed: t.failed, startedAt: t.startedAt))
            }
            detail.credentialID = Array(parts.credentialID)
            detail.correlationID = Array(parts.correlationID)
            detail.grpcStatus = parts.grpcStatus
            detail.trace = parts.trace
            detail.responseLimits = parts.responseLimits
            return detail
        }
    }

    /// The parts of an encoded detail as views into the encoding: what the log exporter reads, with
    /// no copies and no allocations. Valid while the bytes it was made from are.
    public struct Parts {
        public let serverPort: Int
        public let requestHead: UnsafeRawBufferPointer
        public let upstreamTarget: UnsafeRawBufferPointer
        public let responseHead: UnsafeRawBufferPointer
        public let credentialID: UnsafeRawBufferPointer
        public let correlationID: UnsafeRawBufferPointer
        /// The client's TLS session (empty on plain connections): `TLSv1.3`, the cipher, the SNI.
        public let tlsVersion: UnsafeRawBufferPointer
        public let tlsCipher: UnsafeRawBufferPointer
        public let tlsServerName: UnsafeRawBufferPointer
        /// A gRPC call's status, nil for other requests.
        public let grpcStatus: Int?
        /// The request's trace ids, nil when no tracing plugin applied.
        public let trace: TraceIDs?
        /// What the response spent of `response-ratelimiting` limits, nil if nothing.
        public let responseLimits: ResponseLimits?
        /// How many tries there are, and whether any of them got a status.
        public let tryCount: Int
        public let anyTryHasCode: Bool
        private let triesRaw: UnsafeRawBufferPointer

        /// One upstream attempt, its host a view into the encoding.
        public struct TryView {
            public let host: UnsafeRawBufferPointer
            public let port: Int
            public let code: UInt16
            public let failed: Bool
            public let startedAt: UInt64
        }

        /// nil if `bytes` is not a whole encoding.
        public init?(_ bytes: UnsafeRawBufferPointer) {
            var i = 0
            func take(_ n: Int) -> UnsafeRawBufferPointer? {
                guard n >= 0, i + n <= bytes.count else { return nil }
                defer { i += n }
                return UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)])
            }
            func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
                guard let raw = take(MemoryLayout<T>.size) else { return nil }
                return T(littleEndian: raw.loadUnaligned(as: T.self))
            }
            guard let port = integer(UInt16.self),
                  let n0 = integer(UInt32.self), let request = take(Int(n0)),
                  let n1 = integer(UInt32.self), let target = take(Int(n1)),
                  let n2 = integer(UInt32.self), let response = take(Int(n2)),
                  let count = integer(UInt8.self)
            else { return nil }
            let triesStart = i
            var anyCode = false
            for _ in 0..<count {
                guard let hostLength = integer(UInt8.self), take(Int(hostLength)) != nil, integer(UInt16.self) != nil,
                      let code = integer(UInt16.self), integer(UInt8.self) != nil, integer(UInt64.self) != nil
                else { return nil }
                if code != 0 { anyCode = true }
            }
            let triesEnd = i
            guard let c = integer(UInt8.self), let credential = take(Int(c)),
                  let m = integer(UInt8.self), let correlation = take(Int(m)),
                  let v = integer(UInt8.self), let version = take(Int(v)),
                  let k = integer(UInt8.self), let cipher = take(Int(k)),
                  let n = integer(UInt8.self), let serverName = take(Int(n))
            else { return nil }
            serverPort = Int(port)
            requestHead = request
            upstreamTarget = target
            responseHead = response
            tryCount = Int(count)
            anyTryHasCode = anyCode
            triesRaw = UnsafeRawBufferPointer(rebasing: bytes[triesStart..<triesEnd])
            credentialID = credential
            correlationID = correlation
            tlsVersion = version
            tlsCipher = cipher
            tlsServerName = serverName
            let status = integer(Int16.self)
            grpcStatus = status.flatMap { $0 == .min ? nil : Int($0) }
            if let high = integer(UInt64.self), let low = integer(UInt64.self), let parent = integer(UInt64.self),
               let span = integer(UInt64.self), let upstream = integer(UInt64.self), let sampled = integer(UInt8.self),
               let plugin = integer(Int16.self), let injected = integer(UInt8.self), let width = integer(UInt8.self) {
                var ids = TraceIDs(
                    traceHigh: high, traceLow: low, parentSpanID: parent, spanID: span, upstreamSpanID: upstream, sampled: sampled != 0,
                    plugin: plugin)
                ids.injected = injected
                ids.originalSize = width
                trace = plugin == .min ? nil : ids
            } else {
                trace = nil
            }
            if let plugin = integer(Int16.self), let now = integer(Int64.self), let n = integer(UInt8.self), let identifier = take(Int(n)),
               let count = integer(UInt8.self) {
                var increments: [ResponseLimits.Increment] = []
                for _ in 0..<count {
                    guard let limit = integer(UInt8.self), let value = integer(Int64.self) else { break }
                    increments.append(.init(limit: limit, value: value))
                }
                responseLimits = increments.count == Int(count)
                    ? ResponseLimits(plugin: plugin, nowMs: now, identifier: String(decoding: identifier, as: UTF8.self), increments: increments)
                    : nil
            } else {
                responseLimits = nil
            }
        }

        /// Calls `body` with each try, in order.
        public func forEachTry(_ body: (TryView) -> Void) {
            var i = 0
            func integer<T: FixedWidthInteger>(_: T.Type) -> T {
                defer { i += MemoryLayout<T>.size }
                return T(littleEndian: triesRaw.loadUnaligned(fromByteOffset: i, as: T.self))
            }
            for _ in 0..<tryCount {
                let hostLength = Int(integer(UInt8.self))
                let host = UnsafeRawBufferPointer(rebasing: triesRaw[i..<(i + hostLength)])
                i += hostLength
                let port = integer(UInt16.self), code = integer(UInt16.self), failed = integer(UInt8.self), start = integer(UInt64.self)
                body(TryView(host: host, port: Int(port), code: code, failed: failed != 0, startedAt: start))
            }
        }
    }
}
