import Atomics

/// Why a client's HTTP/2 connection or stream was ended by the gateway: the defences nginx has
/// by default, each a label of `argus_http2_connection_errors_total` / `argus_http2_stream_errors_total`.
public enum HTTP2Defence: String, CaseIterable, Sendable {
    /// Streams opened and reset in a loop (CVE-2023-44487).
    case rapidReset = "rapid_reset"
    /// Endless CONTINUATION frames (CVE-2024-27316 and its kin).
    case continuationFlood = "continuation_flood"
    /// PING, SETTINGS, PRIORITY floods, or control frames the client does not read the answers of.
    case controlFrameFlood = "control_frame_flood"
    /// Empty DATA frames in a row.
    case emptyDataFlood = "empty_data_flood"
    /// Too many streams the client made fail.
    case streamErrorFlood = "stream_error_flood"
    /// A header block over the advertised SETTINGS_MAX_HEADER_LIST_SIZE.
    case headerListTooLarge = "header_list_too_large"
    /// More concurrent streams than SETTINGS_MAX_CONCURRENT_STREAMS (the stream is refused).
    case tooManyStreams = "too_many_streams"
    /// Not the HTTP/2 connection preface.
    case badPreface = "bad_preface"
    /// DATA beyond the flow-control window.
    case flowControl = "flow_control"
    /// A header block that is not a valid request (pseudo-headers, forbidden fields, bad values).
    case malformedRequest = "malformed_request"
    /// Any other violation of the protocol (bad frame sizes, frames on closed streams, ...).
    case protocolError = "protocol_error"
    /// Response DATA waited for the client's window longer than the send timeout (nginx's
    /// `send_timeout`): a client that stops reading holds no streams and memory for ever.
    case sendTimeout = "send_timeout"
}

/// One event loop's HTTP/2 counters: written by that loop only (relaxed atomics), read by /metrics.
public final class HTTP2Counters: Sendable {
    private let connections = ManagedAtomic<Int>(0)
    private let open = ManagedAtomic<Int>(0)
    private let streams = ManagedAtomic<Int>(0)
    private let clientResets = ManagedAtomic<Int>(0)
    private let gatewayResets = ManagedAtomic<Int>(0)
    private let idleCloses = ManagedAtomic<Int>(0)
    private let connectionErrors = HTTP2Defence.allCases.map { _ in ManagedAtomic<Int>(0) }
    private let streamErrors = HTTP2Defence.allCases.map { _ in ManagedAtomic<Int>(0) }

    public init() {}

    func connectionOpened() {
        connections.wrappingIncrement(ordering: .relaxed)
        open.wrappingIncrement(ordering: .relaxed)
    }

    func connectionClosed() { open.wrappingDecrement(ordering: .relaxed) }
    func streamOpened() { streams.wrappingIncrement(ordering: .relaxed) }
    func streamResetByClient() { clientResets.wrappingIncrement(ordering: .relaxed) }
    func streamResetByGateway() { gatewayResets.wrappingIncrement(ordering: .relaxed) }
    func closedIdle() { idleCloses.wrappingIncrement(ordering: .relaxed) }

    func connectionError(_ defence: HTTP2Defence) {
        connectionErrors[HTTP2Defence.allCases.firstIndex(of: defence)!].wrappingIncrement(ordering: .relaxed)
    }

    func streamError(_ defence: HTTP2Defence) {
        streamErrors[HTTP2Defence.allCases.firstIndex(of: defence)!].wrappingIncrement(ordering: .relaxed)
    }

    public var connectionsAccepted: Int { connections.load(ordering: .relaxed) }
    public var connectionsOpen: Int { open.load(ordering: .relaxed) }
    public var streamsOpened: Int { streams.load(ordering: .relaxed) }
    public var streamsResetByClient: Int { clientResets.load(ordering: .relaxed) }
    public var streamsResetByGateway: Int { gatewayResets.load(ordering: .relaxed) }
    public var idleConnectionsClosed: Int { idleCloses.load(ordering: .relaxed) }
    public func connectionErrors(_ defence: HTTP2Defence) -> Int {
        connectionErrors[HTTP2Defence.allCases.firstIndex(of: defence)!].load(ordering: .relaxed)
    }
    public func streamErrors(_ defence: HTTP2Defence) -> Int {
        streamErrors[HTTP2Defence.allCases.firstIndex(of: defence)!].load(ordering: .relaxed)
    }
}
