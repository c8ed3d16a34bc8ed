import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusEvents
import ArgusHTTP
import NIOCore

/// One request's way through the gateway, as decisions: the access phase (maybe reading the body
/// whole for a plugin, maybe waiting for a store), connecting to a target, sending the request,
/// awaiting and relaying the response, and what a failure means (another try, an answer, or a
/// close). A value type without I/O: the connection feeds it events and carries out what it
/// answers. Callbacks from outside the loop (a store's answer, a connect) carry the
/// `generation` and try they were started for, and are dropped when it moved on.
struct RequestStateMachine {
    enum Phase {
        /// No request.
        case idle
        /// The access phase runs, or waits for something outside the loop.
        case access(waitingFor: AccessWait?)
        /// A plugin needs the whole body: it is read into `body`.
        case readingBody(BodyReader, body: ByteBuffer)
        /// Waiting for a connection to the target.
        case connecting
        /// The head was sent; the body streams from the client.
        case forwarding
        /// The whole request was sent; the response is awaited or streams back.
        case awaitingResponse
    }

    /// What a suspended access phase waits for.
    enum AccessWait: Equatable {
        /// A rate-limiting check in Redis.
        case rateLimitStore
        /// Another request's fetch of the same proxy-cache key.
        case cacheFetch
    }

    private(set) var phase = Phase.idle
    /// Bumped for every request.
    private(set) var generation: UInt64 = 0

    // The exchange with the upstream (from `exchangePlanned`).
    private(set) var tries = 0
    private var retries = 0
    private var replayableMethod = true
    private var hasBufferedBody = false
    /// The body streaming from the client, as far as it was sent.
    private var requestBody = BodyReader(.none)
    private var requestFraming = BodyFraming.none
    private(set) var requestComplete = true
    /// Some body bytes were taken from the client: the request can no longer be replayed.
    private(set) var bodyConsumed = false
    private(set) var headSentAt: NIODeadline?
    private var writeBlockedSince: NIODeadline?
    private var clientBlockedSince: NIODeadline?
    /// Last progress with the upstream that the gateway recorded itself (head sent, request
    /// complete); the upstream connection's reads count too.
    private var lastUpstreamActivity = NIODeadline.uptimeNanoseconds(0)
    private var writeTimeout = TimeAmount.seconds(60)
    private var readTimeout = TimeAmount.seconds(60)
    /// The upstream's response head arrived.
    private(set) var responseStarted = false
    private(set) var status = 0

    var isActive: Bool {
        if case .idle = phase { return false }
        return true
    }

    // MARK: - Start and access phase

    /// A request was routed: its access phase starts.
    mutating func begin() {
        let next = generation &+ 1
        self = RequestStateMachine()
        generation = next
        phase = .access(waitingFor: nil)
    }

    /// The request is over (answered, relayed, or abandoned).
    mutating func end() {
        phase = .idle
    }

    /// The access phase waits for `wait`.
    mutating func suspend(_ wait: AccessWait) {
        guard case .access = phase else { return }
        phase = .access(waitingFor: wait)
    }

    /// `wait` answered for `generation`: true (and the access phase runs again) when that is
    /// what the request still waits for; false for an answer that comes too late (the request
    /// ended, the client went away).
    mutating func resume(_ wait: AccessWait, generation: UInt64) -> Bool {
        guard generation == self.generation, case .access(waitingFor: wait) = phase else { return false }
        phase = .access(waitingFor: nil)
        return true
    }

    enum BodyStart: Equatable {
        /// Read it (after a `100 Continue` if the client waits for one).
        case read
        /// There is none: the plugin gets an empty body at once.
        case empty
        /// Declared larger than the gateway reads whole: 413, then close.
        case tooLarge
    }

    /// A plugin needs the whole body, at most `limit` bytes.
    mutating func startReadingBody(_ framing: BodyFraming, limit: Int) -> BodyStart {
        switch framing {
        case .length(let n) where n > limit: return .tooLarge
        case .none, .untilClose: return .empty
        case .length, .chunked:
            let capacity = if case .length(let n) = framing { n } else { 0 }
            phase = .readingBody(BodyReader(framing, limit: limit), body: ByteBufferAllocator().buffer(capacity: max(0, min(capacity, 1 << 16))))
            return .read
        }
    }

    enum BodyRead {
        case needMore
        /// The whole body, for the access phase to go on with.
        case complete(ByteBuffer)
        /// Past the limit: 413, then close.
        case tooLarge
        /// Broken chunked framing: 400, then close.
        case malformed
    }

    /// Reads what `buffer` holds of a body a plugin waits for; `received` counts its bytes.
    mutating func readBody(_ buffer: inout ByteBuffer, received: inout Int) -> BodyRead {
        guard case .readingBody(var reader, var body) = phase else { return .needMore }
        phase = .access(waitingFor: nil)  // (neither is copied while they are written)
        let before = reader.bytesRead
        let progress = reader.read(&buffer) { slice in body.writeImmutableBuffer(slice) }
        received += reader.bytesRead - before
        switch progress {
        case .needMore:
            phase = .readingBody(reader, body: body)
            return .needMore
        case .complete: return .complete(body)
        case .overLimit: return .tooLarge
        case .malformed: return .malformed
        }
    }

    // MARK: - The exchange

    /// The access phase let the request through and the planner made its exchange.
    mutating func exchangePlanned(
        framing: BodyFraming, bufferedBody: Bool, bodyLimit: Int?, retries: Int, replayableMethod: Bool,
        writeTimeout: TimeAmount, readTimeout: TimeAmount, received: NIODeadline
    ) {
        requestFraming = framing
        hasBufferedBody = bufferedBody
        requestBody = BodyReader(bufferedBody ? .none : framing, limit: bodyLimit)
        requestComplete = !bufferedBody && framing == .none
        self.retries = retries
        self.replayableMethod = replayableMethod
        self.writeTimeout = writeTimeout
        self.readTimeout = readTimeout
        lastUpstreamActivity = received
    }

    /// A try starts: its number.
    mutating func connecting() -> Int {
        phase = .connecting
        tries += 1
        return tries
    }

    /// Whether a connect started for `generation`'s try `attempt` is still wanted.
    func isConnecting(_ generation: UInt64, attempt: Int) -> Bool {
        guard generation == self.generation, attempt == tries, case .connecting = phase else { return false }
        return true
    }

    /// The head was written to the connection: the body follows.
    mutating func headSent(at now: NIODeadline) {
        headSentAt = now
        lastUpstreamActivity = now
        phase = .forwarding
    }

    enum Forward: Equatable {
        /// Waiting for more of the client's body.
        case needMore
        /// Everything was sent.
        case complete
        /// The chunked body passed request-size-limiting's limit: 413 (or a close once answered).
        case overLimit
        /// The chunked framing broke: 400 (or a close once answered).
        case malformed
    }

    /// The body read whole in the access phase was written to the connection.
    mutating func bufferedBodySent() {
        requestComplete = true
    }

    /// Passes what `buffer` holds of the streaming body to `send`; `.complete` only once, when
    /// the body's end is read.
    mutating func forwardBody(_ buffer: inout ByteBuffer, send: (ByteBuffer) -> Void) -> Forward {
        guard case .forwarding = phase, !requestComplete, !hasBufferedBody else { return .needMore }
        let before = requestBody.bytesRead
        let progress = requestBody.read(&buffer, deliver: send)
        if requestBody.bytesRead > before { bodyConsumed = true }
        switch progress {
        case .needMore: return .needMore
        case .complete:
            requestComplete = true
            return .complete
        case .overLimit: return .overLimit
        case .malformed: return .malformed
        }
    }

    /// The last request bytes are written: nginx's `proxy_read_timeout` runs from now.
    mutating func requestSent(clientActivity: NIODeadline) {
        guard case .forwarding = phase else { return }
        phase = .awaitingResponse
        lastUpstreamActivity = max(lastUpstreamActivity, clientActivity)
    }

    mutating func upstreamBlocked(at now: NIODeadline) { writeBlockedSince = now }
    mutating func upstreamUnblocked() { writeBlockedSince = nil }
    mutating func clientBlocked(at now: NIODeadline) { if clientBlockedSince == nil { clientBlockedSince = now } }
    mutating func clientUnblocked() { clientBlockedSince = nil }
    var isClientBlocked: Bool { clientBlockedSince != nil }

    var isForwarding: Bool {
        if case .forwarding = phase { return true }
        return false
    }

    mutating func responseHead(status: Int) {
        responseStarted = true
        self.status = status
    }

    // MARK: - Failures

    enum Failure: Equatable {
        /// The connect failed or timed out.
        case connect(timedOut: Bool)
        /// The target's name did not resolve.
        case nameResolution
        /// The connection closed before any response byte; `reused`: it was a pooled keep-alive one.
        case closedBeforeResponse(reused: Bool)
        /// The connection closed in the middle of the response, or the response was malformed.
        case brokenResponse
        /// The upstream sent nothing for `read_timeout`.
        case readTimeout
        /// The upstream did not take the request for `write_timeout`.
        case writeTimeout
        /// The client stopped sending its body for the client timeout.
        case clientBodyTimeout
        /// request-size-limiting's limit, or a broken chunked body, while streaming.
        case badRequestBody(overLimit: Bool)
    }

    enum FailureAction: Equatable {
        /// Try again (the next target of a balancer).
        case retry
        /// Answer the client with this error.
        case answer(GatewayError)
        /// Part of the response is out: the only honest signal left is closing the connection
        /// (the request's event records `decision`).
        case close(RequestDecision)
    }

    struct FailureDecision: Equatable {
        var action: FailureAction
        /// The try failed the way passive health checks count (a TCP failure or a timeout).
        var tryFailed: TryFailure? = nil
    }

    struct TryFailure: Equatable {
        var timedOut: Bool
    }

    /// What a failure of the exchange means, by Kong's (nginx's) retry rule: up to `retries` more
    /// tries on connection errors and timeouts, never re-sending a request whose body was
    /// consumed or whose method is not idempotent. `clientSawResponse`: response bytes were
    /// written to the client (a response head held back does not count).
    mutating func failed(_ failure: Failure, clientSawResponse: Bool) -> FailureDecision {
        switch failure {
        case .connect(let timedOut): return retryOrFail(timedOut: timedOut)
        case .nameResolution: return fail(.nameResolutionFailed, clientSawResponse: clientSawResponse)
        case .closedBeforeResponse(let reused):
            // nginx does not count a failure on a cached keep-alive connection as a try.
            if reused { tries -= 1 }
            return retryOrFail(timedOut: false)
        case .brokenResponse: return fail(.badGateway, clientSawResponse: clientSawResponse)
        case .readTimeout:
            if responseStarted { return fail(.gatewayTimeout, clientSawResponse: clientSawResponse) }
            return retryOrFail(timedOut: true)
        case .writeTimeout: return fail(.gatewayTimeout, clientSawResponse: clientSawResponse)
        case .clientBodyTimeout:
            return fail(GatewayError(status: 408, message: "Request timeout", plainByDefault: false), clientSawResponse: clientSawResponse)
        case .badRequestBody(let overLimit):
            if clientSawResponse { return FailureDecision(action: .close(.badRequest)) }
            if overLimit {
                var tooLarge = GatewayError(status: 413, message: RequestSizeLimitPlan.tooLarge, plainByDefault: false)
                tooLarge.decisionOverride = .badRequest
                return FailureDecision(action: .answer(tooLarge))
            }
            return FailureDecision(action: .answer(.badRequest("Bad request")))
        }
    }

    private mutating func retryOrFail(timedOut: Bool) -> FailureDecision {
        let sent = headSentAt != nil
        if tries <= retries, !sent || (replayableMethod && !bodyConsumed) {
            headSentAt = nil
            writeBlockedSince = nil
            requestComplete = !hasBufferedBody && requestFraming == .none
            // The body reader stays as it is: nothing of the body was passed on (or the request
            // would not be replayed), but its framing may have been read (an empty chunked body).
            return FailureDecision(action: .retry, tryFailed: TryFailure(timedOut: timedOut))
        }
        return FailureDecision(action: .answer(timedOut ? .gatewayTimeout : .badGateway), tryFailed: TryFailure(timedOut: timedOut))
    }

    private func fail(_ error: GatewayError, clientSawResponse: Bool) -> FailureDecision {
        FailureDecision(action: clientSawResponse ? .close(error.decision) : .answer(error))
    }

    // MARK: - Time

    /// What the connection's timer watches for this request; `clientActivity` is the client's
    /// last bytes, `upstreamRead` the upstream connection's.
    func timerView(clientActivity: NIODeadline, upstreamRead: NIODeadline?) -> TimeoutPolicy.View {
        switch phase {
        case .readingBody:
            return .readingBody(lastActivity: clientActivity)
        case .forwarding, .awaitingResponse:
            guard headSentAt != nil else { return .untimed }
            return .exchanging(TimeoutPolicy.ExchangeTimes(
                writeBlockedSince: writeBlockedSince, writeTimeout: writeTimeout, requestComplete: requestComplete,
                clientActivity: clientActivity, clientBlockedSince: clientBlockedSince,
                upstreamActivity: max(lastUpstreamActivity, upstreamRead ?? lastUpstreamActivity), readTimeout: readTimeout))
        case .idle, .access, .connecting:
            return .untimed
        }
    }
}
