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
    // then u8 credential id length and its bytes; then u8 correlation id length and its bytes.

    /// Appends the encoding of these parts to `out`.
    public static func encode(
        requestHead: UnsafeRawBufferPointer, upstreamTarget: UnsafeRawBufferPointer, responseHead: UnsafeRawBufferPointer,
        tries: [Try], serverPort: Int, credentialID: String? = nil, correlationID: String? = nil, into out: inout [UInt8]
    ) {
        withUnsafeBytes(of: UInt16(clamping: serverPort).littleEndian) { out.append(contentsOf: $0) }
        func section(_ bytes: UnsafeRawBufferPointer, _ cap: Int) {
            let n = min(bytes.count, cap)
            withUnsafeBytes(of: UInt32(n).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: bytes.prefix(n))
        }
        section(requestHead, maxHeadBytes)
        section(upstreamTarget, maxHeadBytes)
        section(responseHead, maxHeadBytes)
        let kept = tries.prefix(maxTries)
        out.append(UInt8(kept.count))
        for t in kept {
            let host = Array(t.host.utf8.prefix(255))
            out.append(UInt8(host.count))
            out.append(contentsOf: host)
            withUnsafeBytes(of: UInt16(clamping: t.port).littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: t.code.littleEndian) { out.append(contentsOf: $0) }
            out.append(t.failed ? 1 : 0)
            withUnsafeBytes(of: t.startedAt.littleEndian) { out.append(contentsOf: $0) }
        }
        let credential = credentialID.map { Array($0.utf8.prefix(255)) } ?? []
        out.append(UInt8(credential.count))
        out.append(contentsOf: credential)
        let correlation = correlationID.map { Array($0.utf8.prefix(255)) } ?? []
        out.append(UInt8(correlation.count))
        out.append(contentsOf: correlation)
    }

    /// Decodes what ``encode(requestHead:upstreamTarget:responseHead:tries:serverPort:into:)`` wrote; nil if
    /// the bytes are not such an encoding (e.g. cut short).
    public static func decode(_ bytes: [UInt8]) -> RequestDetail? {
        var i = 0
        func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, i + n <= bytes.count else { return nil }
            defer { i += n }
            return bytes[i..<(i + n)]
        }
        func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard let raw = take(MemoryLayout<T>.size) else { return nil }
            return raw.reversed().reduce(T(0)) { $0 << 8 | T($1) }
        }
        var detail = RequestDetail()
        guard let port = integer(UInt16.self) else { return nil }
        detail.serverPort = Int(port)
        for k in 0..<3 {
            guard let n = integer(UInt32.self), let part = take(Int(n)) else { return nil }
            switch k {
            case 0: detail.requestHead = Array(part)
            case 1: detail.upstreamTarget = Array(part)
            default: detail.responseHead = Array(part)
            }
        }
        guard let count = integer(UInt8.self) else { return nil }
        for _ in 0..<count {
            guard let hostLength = integer(UInt8.self), let host = take(Int(hostLength)), let port = integer(UInt16.self),
                  let code = integer(UInt16.self), let failed = integer(UInt8.self), let start = integer(UInt64.self)
            else { return nil }
            detail.tries.append(Try(host: String(decoding: host, as: UTF8.self), port: Int(port), code: code,
                                    failed: failed != 0, startedAt: start))
        }
        guard let n = integer(UInt8.self), let credential = take(Int(n)) else { return nil }
        detail.credentialID = Array(credential)
        guard let m = integer(UInt8.self), let correlation = take(Int(m)) else { return nil }
        detail.correlationID = Array(correlation)
        return detail
    }
}
