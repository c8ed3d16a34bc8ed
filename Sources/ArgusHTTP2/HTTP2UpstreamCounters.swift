import Atomics

/// One event loop's counters of HTTP/2 towards upstreams (`grpc`/`grpcs` services): written by
/// that loop only (relaxed atomics), read by /metrics.
public final class HTTP2UpstreamCounters: Sendable {
    private let connections = ManagedAtomic<Int>(0)
    private let open = ManagedAtomic<Int>(0)
    private let streams = ManagedAtomic<Int>(0)
    private let upstreamResets = ManagedAtomic<Int>(0)
    private let gatewayResets = ManagedAtomic<Int>(0)
    private let protocolErrors = ManagedAtomic<Int>(0)

    public init() {}

    func connectionOpened() {
        connections.wrappingIncrement(ordering: .relaxed)
        open.wrappingIncrement(ordering: .relaxed)
    }

    func connectionClosed() { open.wrappingDecrement(ordering: .relaxed) }
    func streamOpened() { streams.wrappingIncrement(ordering: .relaxed) }
    func streamResetByUpstream() { upstreamResets.wrappingIncrement(ordering: .relaxed) }
    func streamResetByGateway() { gatewayResets.wrappingIncrement(ordering: .relaxed) }
    func protocolError() { protocolErrors.wrappingIncrement(ordering: .relaxed) }

    public var connectionsOpened: Int { connections.load(ordering: .relaxed) }
    public var connectionsOpen: Int { open.load(ordering: .relaxed) }
    public var streamsOpened: Int { streams.load(ordering: .relaxed) }
    public var streamsResetByUpstream: Int { upstreamResets.load(ordering: .relaxed) }
    public var streamsResetByGateway: Int { gatewayResets.load(ordering: .relaxed) }
    public var connectionProtocolErrors: Int { protocolErrors.load(ordering: .relaxed) }
}
