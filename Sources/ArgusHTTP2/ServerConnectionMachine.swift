import NIOCore
import NIOHPACK
import NIOHTTP2

/// The server side of one HTTP/2 connection (RFC 9113) as a value: bytes read go in, the requests,
/// bodies, trailers and resets they carry come out as ``Event``s, and every frame the protocol
/// asks for (SETTINGS and PING answers, WINDOW_UPDATE, RST_STREAM, GOAWAY) and every response frame
/// the gateway sends lands in ``output``. It owns the preface, stream states, both directions of
/// flow control (response DATA beyond the peer's window waits in its stream), header blocks
/// across CONTINUATION frames, HPACK (NIOHPACK's decoder; ``HeaderBlockEncoder`` for what it
/// sends), the request checks of §8, and the defences nginx has by default (streams past the
/// limit refused, rapid reset, CONTINUATION, control-frame and empty-DATA floods, header lists
/// over the limit), each reported as an ``HTTP2Defence``.
///
/// It replaced NIOHTTP2's channel handler on this side: run in an `EmbeddedChannel`, the handler
/// and its pipeline took about half the CPU of a proxied HTTP/2 request (`bench/h2-bench.sh`,
/// see BENCHMARKS.md); the upstream side (gRPC) still uses it. No sockets, no clock of its own:
/// the time is passed in, so every rule is testable with bytes.
public struct ServerConnectionMachine {
    public struct Settings: Sendable {
        public var maxConcurrentStreams = 128
        public var maxHeaderListSize = 32 * 1024
        /// The connection-level receive window (the streams' is 65,535, credited as they are read).
        public var connectionWindow = 1 << 20
        public init() {}
    }

    public enum Event: Equatable {
        /// A new stream's request head.
        case request(stream: Int, headers: HPACKHeaders, endStream: Bool)
        /// Request body bytes; `flowControlled` counts the padding too.
        case data(stream: Int, bytes: ByteBuffer, flowControlled: Int, endStream: Bool)
        /// The request's trailers, which end it.
        case trailers(stream: Int, headers: HPACKHeaders)
        /// The client reset the stream.
        case reset(stream: Int, code: HTTP2ErrorCode)
        /// The gateway reset the stream for an error of the client's (RST_STREAM is in the output).
        case streamError(stream: Int, HTTP2Defence)
        /// The gateway ended the connection for an error of the client's (GOAWAY is in the output):
        /// nothing more is read.
        case connectionError(HTTP2Defence)
        /// The client sent GOAWAY.
        case peerWentAway
        /// Window opened: response DATA that waited was sent.
        case windowOpened
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let maxWindow = Int(Int32.max)
    /// The largest frame this side takes (SETTINGS_MAX_FRAME_SIZE left at its default).
    static let maxFrameSize = 16384
    /// The stream window this side advertises (SETTINGS_INITIAL_WINDOW_SIZE).
    static let initialWindow = 65535
    /// CONTINUATION frames one header block may take (NIOHTTP2's limit).
    static let maxContinuations = 5

    enum Phase {
        case preface(matched: Int)
        case firstSettings
        case open
        case failed
    }

    let settings: Settings
    var output: FrameOutput
    var phase = Phase.preface(matched: 0)
    var inbound: ByteBuffer?
    var decoder: HPACKDecoder
    var streams: [Int: ServerStreamState] = [:]
    /// The highest stream the client opened (GOAWAY's last stream).
    public internal(set) var highestStream = 0
    /// A GOAWAY went out (with this last stream): new streams are ignored, and a later GOAWAY
    /// names the same last stream (§6.8).
    var goAwaySent = false
    var goAwayLastStream = 0
    /// Streams this side reset lately (refused, malformed, answered early): the client's frames
    /// in flight for them are ignored rather than taken for protocol errors (§5.1).
    var recentlyReset: [Int] = []
    /// A header block being collected: its stream, whether HEADERS ended the stream, whether the
    /// stream depends on itself (§5.3.1), its fragments.
    var headerBlock: (stream: Int, endStream: Bool, selfDependent: Bool, fragments: ByteBuffer, continuations: Int)?
    /// The client lowered SETTINGS_HEADER_TABLE_SIZE: the next header block sent starts with a
    /// table size update (to 0, the size this side uses; RFC 7541 §4.2).
    var tableSizeUpdatePending = false
    var peerHeaderTableSize = 4096
    /// Flow control, this side's sending: the connection window and the peer's settings.
    var connectionSendWindow = 65535
    var peerInitialWindow = 65535
    var peerMaxFrameSize = 16384
    /// Response DATA bytes waiting for the client's windows, all streams together.
    public internal(set) var pendingTotal = 0
    /// Flow control, the client's sending.
    var connectionReceiveWindow = 65535
    var connectionUncredited = 0
    var now: UInt64 = 0
    var controlFrames = FloodGuard(burst: 1000, perSecond: 100)
    var clientResets = FloodGuard(burst: 200, perSecond: 10)
    var streamErrors = FloodGuard(burst: 200, perSecond: 10)
    var emptyData = FloodGuard(burst: 100, perSecond: 10)

    public init(settings: Settings, allocator: ByteBufferAllocator) {
        self.settings = settings
        self.output = FrameOutput(allocator: allocator)
        self.decoder = HPACKDecoder(
            allocator: allocator, maxDynamicTableSize: HPACKDecoder.maxDynamicTableSize, maxHeaderListSize: settings.maxHeaderListSize)
    }

    /// The server's preface: its SETTINGS and the connection window beyond the default.
    public mutating func start() {
        output.settings([
            (0x3, UInt32(settings.maxConcurrentStreams)),
            (0x4, UInt32(Self.initialWindow)),
            (0x5, UInt32(Self.maxFrameSize)),
            (0x6, UInt32(settings.maxHeaderListSize)),
            (0x2, 0),
        ])
        if settings.connectionWindow > 65535 {
            output.windowUpdate(stream: 0, increment: settings.connectionWindow - 65535)
            connectionReceiveWindow = settings.connectionWindow
        }
    }

    /// The connection failed (GOAWAY written): nothing more is read.
    public var hasFailed: Bool {
        if case .failed = phase { return true }
        return false
    }

    /// Open streams (the client's or the response's side not yet ended).
    public var openStreams: Int { streams.count }

    /// What is ready for the wire.
    public mutating func takeOutput() -> [ByteBuffer] { output.take() }

    /// Hands back what ``takeOutput()`` gave, once written (its array and scratch buffer are reused).
    public mutating func recycleOutput(_ written: inout [ByteBuffer]) { output.recycle(&written) }

    // MARK: - Bytes in

    /// Handles the bytes read at `now` (nanoseconds, monotonic); appends what they carried to `events`.
    public mutating func receive(_ bytes: ByteBuffer, now: UInt64, into events: inout [Event]) {
        if case .failed = phase { return }
        self.now = now
        if var held = inbound.take() {
            var bytes = bytes
            held.writeBuffer(&bytes)
            inbound = held
        } else {
            inbound = bytes
        }
        if case .preface(let matched) = phase, !readPreface(matched: matched, events: &events) { return }
        while let (type, flags, stream, payload) = nextFrame(events: &events) {
            handle(type: type, flags: flags, stream: stream, payload: payload, events: &events)
            if case .failed = phase { break }
        }
        if inbound?.readableBytes == 0 { inbound = nil }
    }

    /// Reads the client's magic; false while it is incomplete or after it was wrong.
    private mutating func readPreface(matched: Int, events: inout [Event]) -> Bool {
        var matched = matched
        while matched < Self.preface.count, let byte = inbound?.readInteger(as: UInt8.self) {
            guard byte == Self.preface[matched] else {
                connectionError(.badPreface, ErrorCodes.protocolError, events: &events)
                return false
            }
            matched += 1
        }
        guard matched == Self.preface.count else {
            phase = .preface(matched: matched)
            return false
        }
        phase = .firstSettings
        return true
    }

    private mutating func nextFrame(events: inout [Event]) -> (UInt8, UInt8, Int, ByteBuffer)? {
        guard var buffer = inbound, buffer.readableBytes >= 9 else { return nil }
        let at = buffer.readerIndex
        let length = Int(buffer.getInteger(at: at, as: UInt8.self)!) << 16 | Int(buffer.getInteger(at: at + 1, as: UInt16.self)!)
        guard length <= Self.maxFrameSize else {
            connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events)
            return nil
        }
        guard buffer.readableBytes >= 9 + length else { return nil }
        let type = buffer.getInteger(at: at + 3, as: UInt8.self)!
        let flags = buffer.getInteger(at: at + 4, as: UInt8.self)!
        let stream = Int(buffer.getInteger(at: at + 5, as: UInt32.self)! & 0x7FFF_FFFF)
        buffer.moveReaderIndex(forwardBy: 9)
        let payload = buffer.readSlice(length: length)!
        inbound = buffer
        return (type, flags, stream, payload)
    }

    // MARK: - Errors

    /// A connection error (RFC 9113 §5.4.1): GOAWAY with `code`, then nothing more is read.
    mutating func connectionError(_ defence: HTTP2Defence, _ code: UInt32, events: inout [Event]) {
        if case .failed = phase { return }
        phase = .failed
        if !goAwaySent { goAwayLastStream = highestStream }
        output.goAway(lastStream: goAwayLastStream, code: code)
        goAwaySent = true
        inbound = nil
        events.append(.connectionError(defence))
    }

    /// A stream error (§5.4.2): RST_STREAM with `code`; the stream is gone. Too many of them from
    /// one client is a flood, and ends the connection.
    mutating func streamError(_ stream: Int, _ defence: HTTP2Defence, _ code: UInt32, events: inout [Event]) {
        if let state = streams.removeValue(forKey: stream) { pendingTotal -= state.dropPending() }
        noteReset(stream)
        output.rstStream(stream: stream, code: code)
        events.append(.streamError(stream: stream, defence))
        if !streamErrors.spend(now: now) { connectionError(.streamErrorFlood, ErrorCodes.enhanceYourCalm, events: &events) }
    }
}

extension ServerConnectionMachine {
    /// Remembers a stream this side reset (the last 64).
    mutating func noteReset(_ stream: Int) {
        if recentlyReset.count == 64 { recentlyReset.removeFirst() }
        recentlyReset.append(stream)
    }
}

@available(*, unavailable)
extension ServerConnectionMachine: Sendable {}
