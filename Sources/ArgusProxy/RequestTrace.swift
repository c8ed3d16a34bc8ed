import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusEvents
import NIOCore

/// What the data path learns about the request in flight, turned into one `RequestEvent` when the
/// request ends, whichever way it ends (proxied, answered by the gateway, failed, or abandoned).
struct RequestTrace {
    /// A request is in flight and has not been published yet.
    private(set) var active = false
    var receivedAt = NIODeadline.uptimeNanoseconds(0)
    var sentAt: NIODeadline?
    var firstByteAt: NIODeadline?
    var requestID = RequestID(high: 0, low: 0)
    var method = RequestMethod.unknown
    var httpVersion: UInt8 = 0
    var route: Int32 = -1
    var service: Int32 = -1
    var consumer: Int32 = -1
    var configVersion: UInt32 = 0
    var tries: UInt8 = 0
    var plugin: Int16 = -1
    var reason: UInt8 = 0
    var flags = EventFlags()
    var requestBytes = 0
    var responseBytes = 0
    /// A logging plugin may apply to this request: its event carries the request's details.
    /// Known once routed (the route's plan says), so publishing needs no snapshot.
    var recordsDetail = false
    /// A gRPC call's status (`grpc-status` of the response or its trailers), -1 if none.
    var grpcStatus: Int16 = -1
    /// The trace an `opentelemetry` instance put the request in (its event carries the ids).
    var traceIDs: RequestDetail.TraceIDs?
    /// What the response spent of a `response-ratelimiting` instance's limits (counted from the
    /// event ring after the request).
    var responseLimits: RequestDetail.ResponseLimits?

    mutating func start(receivedAt: NIODeadline, requestID: RequestID, method: RequestMethod, minorVersion: Int, headBytes: Int) {
        self = RequestTrace()
        active = true
        self.receivedAt = receivedAt
        self.requestID = requestID
        self.method = method
        self.httpVersion = UInt8(10 + minorVersion)
        self.requestBytes = headBytes
    }

    /// The event for this request; marks the trace as published.
    mutating func finish(
        status: Int, source: ResponseSource, decision: RequestDecision, client: ConnectionAddress, now: NIODeadline
    ) -> RequestEvent {
        active = false
        var event = RequestEvent()
        event.receivedAt = receivedAt.uptimeNanoseconds
        event.upstreamSentAt = sentAt?.uptimeNanoseconds ?? 0
        event.upstreamFirstByteAt = firstByteAt?.uptimeNanoseconds ?? 0
        event.completedAt = max(now, receivedAt).uptimeNanoseconds
        event.requestBytes = UInt64(requestBytes)
        event.responseBytes = UInt64(responseBytes)
        event.requestIDHigh = requestID.high
        event.requestIDLow = requestID.low
        event.clientAddress = client.address
        event.addressFamily = client.family
        event.clientPort = client.port
        event.service = service
        event.route = route
        event.consumer = consumer
        event.configVersion = configVersion
        event.status = UInt16(clamping: status)
        event.method = method
        event.source = source
        event.decision = decision
        event.tries = tries
        event.httpVersion = httpVersion
        event.hasSampledTrace = recordsDetail && traceIDs?.sampled == true
        event.spentResponseLimits = recordsDetail && responseLimits != nil
        event.plugin = plugin
        event.flags = flags.rawValue
        event.reason = reason
        return event
    }
}

/// The client's address, computed once per connection in the event's encoding.
struct ConnectionAddress {
    var address = ClientAddress()
    var family = AddressFamily.unknown
    var port: UInt16 = 0

    init() {}

    /// An address from a header (`real_ip_header`): 4 or 16 bytes, port 0 as nginx's realip sets it.
    init(bytes: [UInt8]) {
        if bytes.count == 4 {
            family = .ipv4
            address = ClientAddress(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) })
        } else if bytes.count == 16 {
            family = .ipv6
            address = ClientAddress(ipv6: bytes)
        }
    }

    init(_ socketAddress: SocketAddress?) {
        guard let socketAddress, let text = socketAddress.ipAddress, let bytes = IPAddressParser.parse(text) else { return }
        port = UInt16(clamping: socketAddress.port ?? 0)
        if bytes.count == 4 {
            family = .ipv4
            address = ClientAddress(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) })
        } else {
            family = .ipv6
            address = ClientAddress(ipv6: bytes)
        }
    }
}
