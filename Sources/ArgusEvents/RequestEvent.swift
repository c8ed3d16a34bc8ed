/// One proxied request, as the data path publishes it into the ``EventRing``.
///
/// A plain value of fixed size (128 bytes, checked by a test): no class references and no
/// `String`s, so copying it into the ring never retains, releases or allocates. Every field is an
/// integer or a `RawRepresentable` wrapper of one, so every bit pattern is a valid value (a torn
/// copy that the ring discards is therefore still a harmless value, never undefined behaviour).
///
/// Names (service, route, consumer, upstream target) are compact ids resolved through the
/// configuration snapshot whose version is ``configVersion``; `-1` means "none".
///
/// Latencies follow Kong's meaning (see ``gatewayLatencyNanos``, ``upstreamLatencyNanos``,
/// ``totalLatencyNanos``). Timestamps are monotonic nanoseconds; `0` means "did not happen".
public struct RequestEvent: Sendable, Hashable, BitwiseCopyable {
    /// When the request head was received from the client.
    public var receivedAt: UInt64
    /// When the request was handed to the upstream (head written); 0 if it never was.
    public var upstreamSentAt: UInt64
    /// When the first byte of the upstream response arrived; 0 if none did.
    public var upstreamFirstByteAt: UInt64
    /// When the last byte of the response was written to the client.
    public var completedAt: UInt64
    /// Bytes received from the client for this request (head and body).
    public var requestBytes: UInt64
    /// Bytes sent to the client for this response (head and body).
    public var responseBytes: UInt64
    /// Where the request's details (raw heads, upstream target, tries) are in the ring's detail
    /// arena: position + 1, or 0 when none were recorded (no log sink wanted them). Read them with
    /// ``EventRing/detail(of:into:)``.
    public var detail: UInt64
    /// The request id (`X-Kong-Request-Id`), high 64 bits.
    public var requestIDHigh: UInt64
    /// The request id, low 64 bits.
    public var requestIDLow: UInt64
    /// The client's address: IPv6, or IPv4 mapped into IPv6 (`::ffff:a.b.c.d`); see ``addressFamily``.
    public var clientAddress: ClientAddress
    /// The matched service's id in the config snapshot, -1 if none.
    public var service: Int32
    /// The matched route's id in the config snapshot, -1 if none.
    public var route: Int32
    /// The authenticated consumer's id in the config snapshot, -1 if none.
    public var consumer: Int32
    /// The upstream target (balancer target) that answered, -1 if none (or past 32767).
    public var upstreamTarget: Int16
    /// The plugin instance (index in the snapshot's `config.plugins`) that answered the request
    /// itself (a rejection) or whose store failed for it (see ``EventFlags``), -1 if none (or
    /// past 32767).
    public var plugin: Int16
    /// The version of the config snapshot the ids above refer to.
    public var configVersion: UInt32
    /// The HTTP status sent to the client.
    public var status: UInt16
    /// The client's source port.
    public var clientPort: UInt16
    /// The request method.
    public var method: RequestMethod
    /// Who produced the response: the upstream or the gateway itself.
    public var source: ResponseSource
    /// Why the gateway answered itself (``RequestDecision/none`` when the upstream answered).
    public var decision: RequestDecision
    /// How many upstream attempts were made (0 if none).
    public var tries: UInt8
    /// Whether ``clientAddress`` holds an IPv4 (mapped) or an IPv6 address.
    public var addressFamily: AddressFamily
    /// Which producer (event loop) published the event; set by ``EventProducer/publish(_:)``.
    public var producer: UInt8
    /// ``httpVersion`` in the low five bits, ``spentResponseLimits`` in bit 5, ``hasSampledTrace``
    /// in bit 6, ``transport`` in the high one.
    public var versionAndTransport: UInt8
    /// ``EventFlags`` in the low four bits, ``reason`` in the high four.
    public var flags: UInt8

    /// An event with every timestamp and counter zero and every id "none".
    public init() {
        receivedAt = 0; upstreamSentAt = 0; upstreamFirstByteAt = 0; completedAt = 0
        requestBytes = 0; responseBytes = 0; detail = 0; requestIDHigh = 0; requestIDLow = 0
        clientAddress = ClientAddress()
        service = -1; route = -1; consumer = -1; upstreamTarget = -1; plugin = -1
        configVersion = 0; status = 0; clientPort = 0
        method = .unknown; source = .gateway; decision = .none; tries = 0
        addressFamily = .unknown; producer = 0; versionAndTransport = 0; flags = 0
    }

    /// HTTP version of the request: 10 for 1.0, 11 for 1.1, 0 if unknown.
    public var httpVersion: UInt8 {
        get { versionAndTransport & 0x1F }
        set { versionAndTransport = versionAndTransport & 0xE0 | newValue & 0x1F }
    }

    /// The response spent `response-ratelimiting` limits: its details say what, for the consumer
    /// that counts them (no other event's details are read for it).
    public var spentResponseLimits: Bool {
        get { versionAndTransport & 0x20 != 0 }
        set { versionAndTransport = newValue ? versionAndTransport | 0x20 : versionAndTransport & ~0x20 }
    }

    /// The request is in a sampled trace and its details carry the trace ids (what the Prometheus
    /// exporter reads for exemplars, without reading any other request's details).
    public var hasSampledTrace: Bool {
        get { versionAndTransport & 0x40 != 0 }
        set { versionAndTransport = newValue ? versionAndTransport | 0x40 : versionAndTransport & ~0x40 }
    }

    /// How the client connection is secured: ``ClientTransport`` bits (0 for plain TCP).
    public var transport: UInt8 {
        get { versionAndTransport >> 7 }
        set { versionAndTransport = versionAndTransport & 0x7F | (newValue & 1) << 7 }
    }

    /// What exactly a rejecting ``plugin`` decided on, in that plugin's terms (rate-limiting: the
    /// exhausted window, a `RateLimitPeriod` raw value), 0–15; 0 if nothing.
    public var reason: UInt8 {
        get { flags >> 4 }
        set { flags = flags & 0x0F | (newValue & 0x0F) << 4 }
    }

    /// Kong's `latencies.kong`: from receipt until the request was handed upstream (or, when the
    /// gateway answered itself, until the response was complete).
    public var gatewayLatencyNanos: UInt64 {
        let end = upstreamSentAt != 0 ? upstreamSentAt : completedAt
        return end &- receivedAt
    }

    /// Kong's `latencies.proxy` (upstream): from sending the request to the first response byte;
    /// 0 if the request never reached an upstream or no byte came back.
    public var upstreamLatencyNanos: UInt64 {
        guard upstreamSentAt != 0, upstreamFirstByteAt >= upstreamSentAt else { return 0 }
        return upstreamFirstByteAt - upstreamSentAt
    }

    /// Kong's `latencies.request`: from receipt to the last byte sent to the client.
    public var totalLatencyNanos: UInt64 { completedAt >= receivedAt ? completedAt - receivedAt : 0 }
}

/// A client address as 16 bytes (IPv4 is stored IPv6-mapped: `::ffff:a.b.c.d`), as two words so
/// that the event stays free of tuples of bytes.
public struct ClientAddress: Sendable, Hashable, BitwiseCopyable {
    /// Bytes 0–7 in network order, as a big-endian word.
    public var high: UInt64
    /// Bytes 8–15 in network order, as a big-endian word.
    public var low: UInt64

    /// `::` (all zero).
    public init() { high = 0; low = 0 }

    /// From the 16 bytes in network order (excess bytes are ignored, missing ones are zero).
    public init<Bytes: Sequence>(ipv6 bytes: Bytes) where Bytes.Element == UInt8 {
        var h: UInt64 = 0, l: UInt64 = 0, i = 0
        for b in bytes where i < 16 {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            i += 1
        }
        if i < 8 { h <<= UInt64(8 * (8 - i)) }
        if i < 16 { l <<= UInt64(8 * (16 - max(i, 8))) }
        high = h; low = l
    }

    /// An IPv4 address (network-order bytes `a.b.c.d` as `a << 24 | b << 16 | c << 8 | d`), mapped.
    public init(ipv4 address: UInt32) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(address)
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> UInt64(8 * (7 - i % 8))) }
    }
}
