import NIOCore
import Testing

@testable import ArgusProxy

/// The one decision tree behind every timeout of a client connection, driven without sockets or sleeps.
@Suite struct TimeoutPolicyTests {
    let policy = TimeoutPolicy(clientTimeout: .seconds(60), headerTimeout: .seconds(10))
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    func at(_ seconds: Int64) -> NIODeadline { t0 + .seconds(seconds) }

    func exchanging(
        writeBlocked: NIODeadline? = nil, requestComplete: Bool = true, client: NIODeadline? = nil, clientBlocked: NIODeadline? = nil,
        upstream: NIODeadline? = nil
    ) -> TimeoutPolicy.View {
        .exchanging(.init(
            writeBlockedSince: writeBlocked, writeTimeout: .seconds(5), requestComplete: requestComplete, clientActivity: client ?? t0,
            clientBlockedSince: clientBlocked, upstreamActivity: upstream ?? t0, readTimeout: .seconds(30)))
    }

    @Test func anIdleKeepAliveConnectionClosesAfterTheClientTimeout() {
        let view = TimeoutPolicy.View.waitingForHead(lastActivity: t0, headStartedAt: nil)
        #expect(policy.deadline(view) == .init(at: at(60), expiry: .idle))
        #expect(policy.evaluate(view, now: at(59)) == (nil, at(60)))
        #expect(policy.evaluate(view, now: at(60)).expired == .idle)
    }

    @Test func aHeadTricklingInGets408AtTheHeaderTimeoutHoweverActiveTheClient() {
        // bytes keep arriving (activity at 9 s), but the head started at 0 s
        let view = TimeoutPolicy.View.waitingForHead(lastActivity: at(9), headStartedAt: t0)
        #expect(policy.deadline(view) == .init(at: at(10), expiry: .headerTimeout))
        #expect(policy.evaluate(view, now: at(10)).expired == .headerTimeout)
        // a head started long after the last activity can not outlive the idle timeout either
        let late = TimeoutPolicy.View.waitingForHead(lastActivity: t0, headStartedAt: at(55))
        #expect(policy.deadline(late)?.expiry == .idle)
    }

    @Test func bodiesTheGatewayWaitsForAnswer408BodiesItDropsJustClose() {
        #expect(policy.deadline(.readingBody(lastActivity: t0)) == .init(at: at(60), expiry: .clientBodyTimeout))
        #expect(policy.deadline(.discarding(lastActivity: t0)) == .init(at: at(60), expiry: .discardTimeout))
    }

    @Test func anUpstreamThatDoesNotTakeTheRequestIsAWriteTimeoutFirst() {
        let view = exchanging(writeBlocked: at(1), requestComplete: false, client: at(2))
        #expect(policy.deadline(view) == .init(at: at(6), expiry: .upstreamWriteTimeout))
    }

    @Test func anUploadThatStallsIsTheClientsTimeout() {
        let view = exchanging(requestComplete: false, client: at(3), upstream: at(50))
        #expect(policy.deadline(view) == .init(at: at(63), expiry: .clientBodyTimeout))
    }

    @Test func aClientThatDoesNotReadIsASendTimeout() {
        let view = exchanging(clientBlocked: at(4), upstream: at(100))
        #expect(policy.deadline(view) == .init(at: at(64), expiry: .sendTimeout))
    }

    @Test func anUpstreamThatSendsNothingIsAReadTimeoutCountedFromItsLastProgress() {
        let view = exchanging(upstream: at(7))
        #expect(policy.deadline(view) == .init(at: at(37), expiry: .upstreamReadTimeout))
        #expect(policy.evaluate(view, now: at(36)) == (nil, at(37)))
        #expect(policy.evaluate(view, now: at(37)).expired == .upstreamReadTimeout)
    }

    @Test func waitingForAStoreOrAConnectIsNotTimedHere() {
        #expect(policy.deadline(.untimed) == nil)
        #expect(policy.evaluate(.untimed, now: at(1_000)) == (nil, nil))
    }
}
