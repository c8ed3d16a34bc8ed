import ArgusSnapshot
import ArgusHTTP
import NIOCore

/// One client connection's HTTP/1.1 life, as decisions: when to parse the next head (keep-alive,
/// pipelining), what a request's end leaves to do (read the next one, drop the rest of its body,
/// or close), when a gateway answer must close the connection, and how a close lingers. A value
/// type without I/O: the connection (`ProxyConnection`) feeds it events and carries out what it
/// answers.
struct ConnectionStateMachine {
    enum State {
        /// Waiting for a request head; `headStartedAt` once part of one is in.
        case head(headStartedAt: NIODeadline?)
        /// A request is being served (its own state is the `RequestStateMachine`'s).
        case request
        /// The gateway answered; the rest of the request's body is read and dropped.
        case discarding(BodyReader)
        /// Closing: everything written goes out, then the write side is shut and what the client
        /// still sends is dropped for a moment (nginx's lingering close).
        case closing
        case closed
    }

    /// What to do with bytes received from the client.
    enum InboundAction: Equatable {
        /// Parse a request head from them.
        case parseHead
        /// A client that does not read its answers gets no more of them: stop reading.
        case pauseReading
        /// The request in flight takes them (its body), or they wait for it to end (pipelining).
        case request
        /// Drop the answered request's body.
        case discard
        /// Nothing to do (nothing received, or the connection is closing).
        case none
    }

    /// What is left to do when a request ends.
    enum EndAction: Equatable {
        /// Read the next request (any pipelined bytes first).
        case readNext
        /// Drop the rest of the request's body first.
        case discard
        /// Close once the response is written.
        case close
    }

    private(set) var state = State.head(headStartedAt: nil)
    /// The connection closes once the current response is written.
    private(set) var closeAfterResponse = false

    /// Bodies larger than this are not drained after a gateway answer: the connection closes.
    static let maxDiscardedBody = 1 << 20

    var isClosing: Bool {
        switch state {
        case .closing, .closed: return true
        default: return false
        }
    }

    // MARK: - Bytes in

    func inboundAction(readable: Int, clientWritable: Bool) -> InboundAction {
        switch state {
        case .head:
            guard readable > 0 else { return .none }
            // Gateway answers to pipelined requests must not pile up for a client that does not read.
            return clientWritable ? .parseHead : .pauseReading
        case .request: return .request
        case .discarding: return .discard
        case .closing, .closed: return .none
        }
    }

    /// Part of a head arrived; returns when the whole head is due, the first time.
    mutating func headIncomplete(at now: NIODeadline, headerTimeout: TimeAmount) -> NIODeadline? {
        guard case .head(nil) = state else { return nil }
        state = .head(headStartedAt: now)
        return now + headerTimeout
    }

    /// A head was parsed: the request starts. A client that did not ask to keep the connection
    /// (HTTP/1.0 without keep-alive, `Connection: close`) gets its answer, then a close.
    mutating func requestStarted(keepAlive: Bool) {
        state = .request
        if !keepAlive { closeAfterResponse = true }
    }

    /// Something makes the connection unusable after the current response (a body that can not
    /// be framed any more, a timeout, a response that ends with the connection, shutdown).
    mutating func closeAfterThisResponse() {
        closeAfterResponse = true
    }

    // MARK: - Gateway answers

    /// The rules for a response the gateway makes itself while `unread` of the request's body is
    /// still to come: a client waiting for a `100 Continue` that will not come may never send its
    /// body, and a large body is not worth reading: either closes the connection after the answer.
    mutating func answering(unread: BodyFraming, waitsForContinue: Bool) {
        if case .length(let n) = unread, n > Self.maxDiscardedBody { closeAfterResponse = true }
        if waitsForContinue { closeAfterResponse = true }
    }

    /// Like nginx, a request that could not be understood (400) ends the connection.
    mutating func requestNotUnderstood() {
        closeAfterResponse = true
    }

    // MARK: - A request's end

    /// The response is written (or the request abandoned); `unread` is what of its body the
    /// connection still holds or will receive.
    mutating func requestEnded(unread: BodyFraming) -> EndAction {
        if isClosing { return .close }  // the connection went while the request ended
        if closeAfterResponse {
            state = .closing
            return .close
        }
        switch unread {
        case .none, .untilClose:
            state = .head(headStartedAt: nil)
            return .readNext
        case .length, .chunked:
            state = .discarding(BodyReader(unread))
            return .discard
        }
    }

    /// Drops what `buffer` holds of the answered request's body.
    mutating func discard(_ buffer: inout ByteBuffer) -> EndAction? {
        guard case .discarding(var reader) = state else { return nil }
        state = .request  // (the reader is not copied while it reads)
        switch reader.read(&buffer, deliver: { _ in }) {
        case .complete where closeAfterResponse:
            // (shutdown began while the body was dropped)
            state = .closing
            return .close
        case .complete:
            state = .head(headStartedAt: nil)
            return .readNext
        case .needMore where reader.bytesRead <= Self.maxDiscardedBody:
            state = .discarding(reader)
            return nil
        case .needMore, .overLimit, .malformed:
            closeAfterResponse = true
            state = .closing
            return .close
        }
    }

    // MARK: - Closing

    /// Graceful shutdown: true when the connection should close at once (idle, nothing
    /// received); otherwise it closes after the response in progress.
    mutating func quiesce(buffered: Int) -> Bool {
        closeAfterResponse = true
        if case .head = state, buffered == 0 { return true }
        return false
    }

    /// The connection closes now, without a response (a request that never became one is answered first).
    mutating func closing() {
        closeAfterResponse = true
        state = .closing
    }

    mutating func closed() {
        state = .closed
    }

    // MARK: - Views

    /// nginx's connection state, for `kong_nginx_connections_total`.
    func connectionState(buffered: Int) -> ConnectionState {
        switch state {
        case .head: return buffered == 0 ? .waiting : .reading
        case .closing, .closed: return .waiting
        case .request, .discarding: return .writing
        }
    }

    /// What the timer watches when no request is in flight (the request's own view otherwise).
    func timerView(lastActivity: NIODeadline) -> TimeoutPolicy.View? {
        switch state {
        case .head(let started): return .waitingForHead(lastActivity: lastActivity, headStartedAt: started)
        case .discarding: return .discarding(lastActivity: lastActivity)
        case .closing, .closed: return .untimed
        case .request: return nil
        }
    }
}
