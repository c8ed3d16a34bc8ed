import ArgusHTTP
import NIOCore
import Testing

@testable import ArgusProxy

/// Keep-alive, pipelining, draining and closing of a client connection, driven without sockets.
@Suite struct ConnectionStateMachineTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func keepAliveRequestsFollowEachOther() {
        var machine = ConnectionStateMachine()
        #expect(machine.inboundAction(readable: 0, clientWritable: true) == .none)
        #expect(machine.inboundAction(readable: 40, clientWritable: true) == .parseHead)
        machine.requestStarted(keepAlive: true)
        // pipelined bytes wait for the request in flight
        #expect(machine.inboundAction(readable: 40, clientWritable: true) == .request)
        #expect(machine.connectionState(buffered: 40) == .writing)
        #expect(machine.requestEnded(unread: .none) == .readNext)
        #expect(!machine.closeAfterResponse)
        #expect(machine.inboundAction(readable: 40, clientWritable: true) == .parseHead)
        #expect(machine.connectionState(buffered: 0) == .waiting)
        #expect(machine.connectionState(buffered: 3) == .reading)
    }

    @Test func aClientThatDoesNotReadGetsNoMoreAnswersToPipelinedRequests() {
        let machine = ConnectionStateMachine()
        #expect(machine.inboundAction(readable: 40, clientWritable: false) == .pauseReading)
    }

    @Test func http10WithoutKeepAliveClosesAfterItsResponse() {
        var machine = ConnectionStateMachine()
        machine.requestStarted(keepAlive: false)
        #expect(machine.closeAfterResponse)
        #expect(machine.requestEnded(unread: .none) == .close)
        #expect(machine.isClosing)
        #expect(machine.inboundAction(readable: 10, clientWritable: true) == .none)  // lingering: dropped
        #expect(machine.connectionState(buffered: 0) == .waiting)
    }

    @Test func theHeaderTimeoutStartsWithTheFirstByteOfAHeadOnce() {
        var machine = ConnectionStateMachine()
        #expect(machine.headIncomplete(at: t0, headerTimeout: .seconds(10)) == t0 + .seconds(10))
        #expect(machine.headIncomplete(at: t0 + .seconds(3), headerTimeout: .seconds(10)) == nil)
        #expect(machine.timerView(lastActivity: t0 + .seconds(3)) == .waitingForHead(lastActivity: t0 + .seconds(3), headStartedAt: t0))
        machine.requestStarted(keepAlive: true)
        #expect(machine.timerView(lastActivity: t0) == nil)  // the request's own view
        _ = machine.requestEnded(unread: .none)
        #expect(machine.timerView(lastActivity: t0) == .waitingForHead(lastActivity: t0, headStartedAt: nil))
    }

    @Test func anAnsweredRequestsBodyIsDroppedAndTheConnectionKept() {
        var machine = ConnectionStateMachine()
        machine.requestStarted(keepAlive: true)
        machine.answering(unread: .length(10), waitsForContinue: false)
        #expect(machine.requestEnded(unread: .length(10)) == .discard)
        #expect(machine.inboundAction(readable: 4, clientWritable: true) == .discard)
        #expect(machine.timerView(lastActivity: t0) == .discarding(lastActivity: t0))
        var bytes = ByteBuffer(string: "0123")
        #expect(machine.discard(&bytes) == nil)
        bytes = ByteBuffer(string: "456789GET / HTTP/1.1\r\n")
        #expect(machine.discard(&bytes) == .readNext)
        #expect(String(buffer: bytes) == "GET / HTTP/1.1\r\n")
        #expect(machine.inboundAction(readable: bytes.readableBytes, clientWritable: true) == .parseHead)
    }

    @Test func aLargeOrContinueAwaitingOrUnparseableBodyClosesInstead() {
        var large = ConnectionStateMachine()
        large.requestStarted(keepAlive: true)
        large.answering(unread: .length(ConnectionStateMachine.maxDiscardedBody + 1), waitsForContinue: false)
        #expect(large.requestEnded(unread: .length(ConnectionStateMachine.maxDiscardedBody + 1)) == .close)

        var expecting = ConnectionStateMachine()
        expecting.requestStarted(keepAlive: true)
        expecting.answering(unread: .length(5), waitsForContinue: true)
        #expect(expecting.requestEnded(unread: .length(5)) == .close)

        var bad = ConnectionStateMachine()
        bad.requestStarted(keepAlive: true)
        bad.requestNotUnderstood()
        #expect(bad.requestEnded(unread: .none) == .close)
    }

    @Test func aChunkedBodyPastTheDrainLimitOrMalformedCloses() {
        var machine = ConnectionStateMachine()
        machine.requestStarted(keepAlive: true)
        #expect(machine.requestEnded(unread: .chunked) == .discard)
        var chunk = ByteBuffer(string: "100001\r\n" + String(repeating: "x", count: 0x100001))
        #expect(machine.discard(&chunk) == .close)

        var broken = ConnectionStateMachine()
        broken.requestStarted(keepAlive: true)
        _ = broken.requestEnded(unread: .chunked)
        var junk = ByteBuffer(string: "zz\r\n")
        #expect(broken.discard(&junk) == .close)
    }

    @Test func shutdownDuringADiscardClosesOnceTheBodyIsDropped() {
        var machine = ConnectionStateMachine()
        machine.requestStarted(keepAlive: true)
        #expect(machine.requestEnded(unread: .length(3)) == .discard)
        #expect(machine.quiesce(buffered: 0) == false)
        var body = ByteBuffer(string: "abc")
        #expect(machine.discard(&body) == .close)
    }

    @Test func aConnectionThatClosedWhileItsRequestEndedStaysClosed() {
        var machine = ConnectionStateMachine()
        machine.requestStarted(keepAlive: true)
        machine.closed()
        #expect(machine.requestEnded(unread: .none) == .close)
        #expect(machine.isClosing)
        #expect(machine.timerView(lastActivity: t0) == .untimed)
    }

    @Test func quiescingClosesAnIdleConnectionAtOnceAndABusyOneAfterItsResponse() {
        var idle = ConnectionStateMachine()
        #expect(idle.quiesce(buffered: 0) == true)
        var reading = ConnectionStateMachine()
        #expect(reading.quiesce(buffered: 12) == false)
        var busy = ConnectionStateMachine()
        busy.requestStarted(keepAlive: true)
        #expect(busy.quiesce(buffered: 0) == false)
        #expect(busy.requestEnded(unread: .none) == .close)
    }
}

/// The proxy's drain waits for the loops' last connections, not for a clock.
@Suite struct DrainLatchTests {
    @Test func theWaiterWakesWhenTheLastLoopDrained() async {
        let latch = DrainLatch(count: 2)
        async let waited: Void = latch.wait()
        latch.countDown()
        latch.countDown()
        await waited
    }

    @Test func aLatchAlreadyAtZeroDoesNotWait() async {
        let latch = DrainLatch(count: 1)
        latch.countDown()
        await latch.wait()
    }

    @Test func theDrainTimeoutCancelsTheWait() async {
        let latch = DrainLatch(count: 1)
        let task = Task { await latch.wait() }
        task.cancel()
        await task.value  // returns although the loop never drained
    }
}
