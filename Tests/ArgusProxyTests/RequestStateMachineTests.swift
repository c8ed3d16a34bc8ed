import ArgusEvents
import ArgusHTTP
import NIOCore
import Testing

@testable import ArgusProxy

/// A request's progress and Kong's (nginx's) retry rules, driven without sockets or sleeps.
@Suite struct RequestStateMachineTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A request planned for an exchange with `retries` more tries allowed.
    func planned(_ framing: BodyFraming = .none, retries: Int = 5, replayable: Bool = true, buffered: Bool = false) -> RequestStateMachine {
        var machine = RequestStateMachine()
        machine.begin()
        machine.exchangePlanned(
            framing: framing, bufferedBody: buffered, bodyLimit: nil, retries: retries, replayableMethod: replayable,
            writeTimeout: .seconds(60), readTimeout: .seconds(60), received: t0)
        return machine
    }

    @Test func aRefusedConnectIsRetriedUntilTheRetriesAreSpent() {
        var machine = planned(retries: 2)
        for attempt in 1...3 {
            #expect(machine.connecting() == attempt)
            let decision = machine.failed(.connect(timedOut: false), clientSawResponse: false)
            #expect(decision.tryFailed == .init(timedOut: false))
            #expect(decision.action == (attempt <= 2 ? .retry : .answer(.badGateway)))
        }
    }

    @Test func aConnectTimeoutEndsIn504() {
        var machine = planned(retries: 0)
        _ = machine.connecting()
        #expect(machine.failed(.connect(timedOut: true), clientSawResponse: false).action == .answer(.gatewayTimeout))
    }

    @Test func aStaleKeepAliveConnectionDoesNotCountAsATry() {
        var machine = planned(retries: 0)
        _ = machine.connecting()
        machine.headSent(at: t0)
        #expect(machine.failed(.closedBeforeResponse(reused: true), clientSawResponse: false).action == .retry)
        #expect(machine.connecting() == 1)
        machine.headSent(at: t0)
        #expect(machine.failed(.closedBeforeResponse(reused: false), clientSawResponse: false).action == .answer(.badGateway))
    }

    @Test func aNonIdempotentRequestIsNotSentTwice() {
        var post = planned(retries: 5, replayable: false)
        _ = post.connecting()
        // not sent yet: a connect failure is retried whatever the method
        #expect(post.failed(.connect(timedOut: false), clientSawResponse: false).action == .retry)
        _ = post.connecting()
        post.headSent(at: t0)
        #expect(post.failed(.readTimeout, clientSawResponse: false).action == .answer(.gatewayTimeout))
    }

    @Test func aRequestWhoseBodyWasConsumedIsNotReplayed() {
        var put = planned(.length(4), retries: 5)
        _ = put.connecting()
        put.headSent(at: t0)
        var body = ByteBuffer(string: "ab")
        var sent = ""
        #expect(put.forwardBody(&body) { sent += String(buffer: $0) } == .needMore)
        #expect(sent == "ab" && put.bodyConsumed && !put.requestComplete)
        #expect(put.failed(.closedBeforeResponse(reused: false), clientSawResponse: false).action == .answer(.badGateway))
    }

    @Test func aBodyReadWholeIsSentAgainOnEveryTry() {
        var machine = planned(.length(4), retries: 1, buffered: true)
        #expect(!machine.requestComplete)
        _ = machine.connecting()
        machine.headSent(at: t0)
        machine.bufferedBodySent()
        #expect(machine.requestComplete && !machine.bodyConsumed)
        #expect(machine.failed(.readTimeout, clientSawResponse: false).action == .retry)
        #expect(!machine.requestComplete)  // to be sent again
    }

    @Test func aReadTimeoutAfterTheResponseStartedClosesOrAnswers() {
        var machine = planned()
        _ = machine.connecting()
        machine.headSent(at: t0)
        machine.responseHead(status: 200)
        // the client has seen part of the response: only a close is honest
        #expect(machine.failed(.readTimeout, clientSawResponse: true).action == .close(.upstreamTimeout))
        // the head was held back: the client still gets a clean 504
        #expect(machine.failed(.readTimeout, clientSawResponse: false).action == .answer(.gatewayTimeout))
        #expect(machine.failed(.brokenResponse, clientSawResponse: false).tryFailed == nil)
    }

    @Test func aBrokenChunkedUploadIs400OrPast413AndNeverRetried() {
        var machine = planned(.chunked)
        _ = machine.connecting()
        machine.headSent(at: t0)
        #expect(machine.failed(.badRequestBody(overLimit: false), clientSawResponse: false).action == .answer(.badRequest("Bad request")))
        let tooLarge = machine.failed(.badRequestBody(overLimit: true), clientSawResponse: false)
        guard case .answer(let error) = tooLarge.action else { Issue.record("not an answer"); return }
        #expect(error.status == 413)
    }

    @Test func callbacksForAnEarlierRequestOrTryAreStale() {
        var machine = planned()
        let generation = machine.generation
        let attempt = machine.connecting()
        #expect(machine.isConnecting(generation, attempt: attempt))
        _ = machine.failed(.connect(timedOut: false), clientSawResponse: false)
        let next = machine.connecting()
        #expect(!machine.isConnecting(generation, attempt: attempt))
        #expect(machine.isConnecting(generation, attempt: next))
        machine.end()
        machine.begin()
        #expect(!machine.isConnecting(generation, attempt: next))
    }

    @Test func aStoresAnswerResumesOnlyTheRequestWaitingForIt() {
        var machine = RequestStateMachine()
        machine.begin()
        let generation = machine.generation
        machine.suspend(.rateLimitStore)
        #expect(machine.resume(.cacheFetch, generation: generation) == false)
        #expect(machine.resume(.rateLimitStore, generation: generation &+ 1) == false)
        #expect(machine.resume(.rateLimitStore, generation: generation) == true)
        #expect(machine.resume(.rateLimitStore, generation: generation) == false)  // once
        machine.suspend(.cacheFetch)
        machine.end()
        #expect(machine.resume(.cacheFetch, generation: generation) == false)  // the client went away
    }

    @Test func aBodyForAPluginIsReadWholeWithinItsLimit() {
        var machine = RequestStateMachine()
        machine.begin()
        #expect(machine.startReadingBody(.length(100), limit: 10) == .tooLarge)
        #expect(machine.startReadingBody(.none, limit: 10) == .empty)
        #expect(machine.startReadingBody(.length(5), limit: 10) == .read)
        var bytes = ByteBuffer(string: "abc")
        var received = 0
        guard case .needMore = machine.readBody(&bytes, received: &received) else { Issue.record("expected more"); return }
        bytes = ByteBuffer(string: "deGET")
        guard case .complete(let body) = machine.readBody(&bytes, received: &received) else { Issue.record("expected the body"); return }
        #expect(String(buffer: body) == "abcde" && received == 5 && String(buffer: bytes) == "GET")
        #expect(machine.resume(.rateLimitStore, generation: machine.generation) == false)
        #expect(machine.startReadingBody(.chunked, limit: 3) == .read)
        var chunks = ByteBuffer(string: "5\r\nhello\r\n")
        guard case .tooLarge = machine.readBody(&chunks, received: &received) else { Issue.record("expected tooLarge"); return }
    }

    @Test func timeIsTheExchangesOnlyOnceTheHeadIsSent() {
        var machine = planned(.length(3))
        #expect(machine.timerView(clientActivity: t0, upstreamRead: nil) == .untimed)
        _ = machine.connecting()
        #expect(machine.timerView(clientActivity: t0, upstreamRead: nil) == .untimed)
        machine.headSent(at: t0)
        guard case .exchanging(let times) = machine.timerView(clientActivity: t0 + .seconds(1), upstreamRead: t0 + .seconds(2)) else {
            Issue.record("not exchanging")
            return
        }
        #expect(!times.requestComplete && times.upstreamActivity == t0 + .seconds(2) && times.clientActivity == t0 + .seconds(1))
        machine.upstreamBlocked(at: t0 + .seconds(3))
        guard case .exchanging(let blocked) = machine.timerView(clientActivity: t0, upstreamRead: nil) else { return }
        #expect(blocked.writeBlockedSince == t0 + .seconds(3))
    }

    @Test func anEmptyChunkedBodyOnAStaleConnectionIsSentAgainWhole() {
        var put = planned(.chunked, retries: 0)
        _ = put.connecting()
        put.headSent(at: t0)
        var body = ByteBuffer(string: "0\r\n\r\n")
        #expect(put.forwardBody(&body) { _ in } == .complete)
        #expect(!put.bodyConsumed)
        // the pooled connection was stale: a retry that does not count as a try
        #expect(put.failed(.closedBeforeResponse(reused: true), clientSawResponse: false).action == .retry)
        _ = put.connecting()
        put.headSent(at: t0)
        // the body's framing was read already: it is complete again at once, not waited for
        var nothing = ByteBuffer()
        #expect(put.forwardBody(&nothing) { _ in } == .complete)
    }
}
