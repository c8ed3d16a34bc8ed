import ArgusLoop
import Atomics
import CEpoll
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@Suite("IOLoop: an event loop of Argus's own")
struct IOLoopTests {
    private func withLoop(_ body: (IOLoop) async throws -> Void) async throws {
        let loop = IOLoop(name: "test-loop")
        do {
            try await body(loop)
        } catch {
            try await loop.shutdownGracefully()
            throw error
        }
        try await loop.shutdownGracefully()
    }

    @Test func tasksFromOtherThreadsRunOnTheLoopInOrderPerThread() async throws {
        try await withLoop { loop in
            let seen = NIOLockedValueBox<[Int: [Int]]>([:])
            let offLoop = ManagedAtomic(0)
            let threads = 4, perThread = 2_000
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                for i in 0..<perThread {
                    loop.execute {
                        if !loop.inEventLoop { offLoop.wrappingIncrement(ordering: .relaxed) }
                        seen.withLockedValue { $0[t, default: []].append(i) }
                    }
                }
            }
            try await loop.submit {}.get()  // queued after every task above
            #expect(offLoop.load(ordering: .relaxed) == 0)
            let all = seen.withLockedValue { $0 }
            #expect(all.count == threads)
            for t in 0..<threads { #expect(all[t] == Array(0..<perThread)) }
            #expect(!loop.inEventLoop)
        }
    }

    @Test func scheduledTasksRunAtTheirDeadlinesInOrderAndCanBeCancelled() async throws {
        try await withLoop { loop in
            let order = NIOLockedValueBox<[Int]>([])
            // The loop first sleeps until the late deadline; the earlier one scheduled after must wake it.
            // (An hour away: under ThreadSanitizer on a loaded machine this test's task was once
            // suspended for over a minute, and a closer timer fired before it was cancelled.)
            let late = loop.scheduleTask(in: .hours(1)) { order.withLockedValue { $0.append(3_600_000) } }
            try await Task.sleep(for: .milliseconds(20))
            let start = NIODeadline.now()
            let early = loop.scheduleTask(in: .milliseconds(20)) { order.withLockedValue { $0.append(20) }; return NIODeadline.now() }
            let cancelled = loop.scheduleTask(in: .milliseconds(10)) { order.withLockedValue { $0.append(10) } }
            cancelled.cancel()
            let ranEarly = try await early.futureResult.get()
            #expect(ranEarly - start >= .milliseconds(20), "not before its deadline")
            #expect(ranEarly - start < .seconds(10), "not held back until the later deadline")
            await #expect(throws: EventLoopError.cancelled) { try await cancelled.futureResult.get() }
            late.cancel()
            await #expect(throws: EventLoopError.cancelled) { try await late.futureResult.get() }
            #expect(order.withLockedValue { $0 } == [20])
            // Two tasks due in the same round: the first can still cancel the second.
            let second = NIOLockedValueBox<Scheduled<Void>?>(nil)
            let ranSecond = ManagedAtomic(false)
            let deadline = NIODeadline.now() + .milliseconds(15)
            let first = loop.scheduleTask(deadline: deadline) { second.withLockedValue { $0 }?.cancel() }
            second.withLockedValue { $0 = loop.scheduleTask(deadline: deadline) { ranSecond.store(true, ordering: .relaxed) } }
            try await first.futureResult.get()
            try await Task.sleep(for: .milliseconds(30))
            let secondRan = ranSecond.load(ordering: .relaxed)
            #expect(!secondRan)
            // From the loop's own thread too, and a task that throws fails its future.
            struct Boom: Error {}
            let fromLoop = try await loop.submit { loop.scheduleTask(in: .milliseconds(1)) { () throws -> Int in throw Boom() } }.get()
            await #expect(throws: Boom.self) { try await fromLoop.futureResult.get() }
        }
    }

    @Test func deferredObjectsRunInOrderWithTasksAndTimerTargetsFireUnlessCancelled() async throws {
        try await withLoop { loop in
            let log = NIOLockedValueBox<[String]>([])
            let fired = try await loop.submit { () -> CallbackRecorder in
                let deferred = CallbackRecorder(log, "deferred")
                loop.execute { log.withLockedValue { $0.append("before") } }
                loop.executeDeferred(deferred)
                loop.execute { log.withLockedValue { $0.append("after") } }
                let target = CallbackRecorder(log, "timer")
                _ = loop.scheduleTimer(deadline: .now() + .milliseconds(5), target: target)
                let cancelled = CallbackRecorder(log, "cancelled")
                if let timer = loop.scheduleTimer(deadline: .now() + .milliseconds(1), target: cancelled) { loop.cancelTimer(timer) }
                return target
            }.get()
            var waited = 0
            while fired.count == 0 && waited < 1_000 {  // (10 s at most: the deadline is 5 ms away)
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            try await loop.submit {}.get()
            #expect(log.withLockedValue { $0 } == ["before", "deferred", "after", "timer"])
            #expect(fired.count == 1)
        }
    }

    @Test func futuresHopBetweenNIOsLoopsAndThisOne() async throws {
        try await withLoop { loop in
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let value = try await group.next().submit { 20 }
                .hop(to: loop)
                .map { (n: Int) -> Int in
                    precondition(loop.inEventLoop)
                    return n + 1
                }
                .flatMap { n in loop.makeSucceededFuture(n * 2) }
                .get()
            #expect(value == 42)
            let promise: EventLoopPromise<String> = loop.makePromise()
            group.next().execute { promise.succeed("from NIO's thread") }
            #expect(try await promise.futureResult.get() == "from NIO's thread")
            try await group.shutdownGracefully()
        }
    }

    /// Reads what a socket pair's other end writes, on the loop, when epoll says it is readable.
    final class Reader: IOHandler, @unchecked Sendable {
        let fd: Int32
        let loop: IOLoop
        let received = NIOLockedValueBox<[UInt8]>([])
        let calls = ManagedAtomic(0)
        /// The end of the stream was read and the descriptor deregistered.
        let deregistered = ManagedAtomic(false)
        init(fd: Int32, loop: IOLoop) { self.fd = fd; self.loop = loop }
        func ioReady(_ events: UInt32) {
            precondition(loop.inEventLoop)
            calls.wrappingIncrement(ordering: .relaxed)
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { received.withLockedValue { $0 += buffer[0..<n] } }
            if n == 0 {  // the other end closed
                loop.deregister(fd)
                deregistered.store(true, ordering: .relaxed)
            }
        }
    }

    @Test func aRegisteredDescriptorIsReportedWhenReadyAndNotAfterDeregistering() async throws {
        try await withLoop { loop in
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            defer { close(fds[0]) }
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
            let readEnd = fds[0]
            let reader = Reader(fd: readEnd, loop: loop)
            try await loop.submit { try loop.register(readEnd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, handler: reader) }.get()
            for chunk in ["hello ", "from ", "the other end"] {
                _ = chunk.utf8CString.withUnsafeBufferPointer { write(fds[1], $0.baseAddress, chunk.utf8.count) }
                try await Task.sleep(for: .milliseconds(20))
            }
            close(fds[1])
            for _ in 0..<2_000 where reader.received.withLockedValue({ $0.count }) < 24 { try await Task.sleep(for: .milliseconds(5)) }
            #expect(String(decoding: reader.received.withLockedValue { $0 }, as: UTF8.self) == "hello from the other end")
            // the end of the stream comes as an event of its own, later on a loaded machine
            for _ in 0..<2_000 where !reader.deregistered.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
            let ended = reader.deregistered.load(ordering: .relaxed)
            #expect(ended)
            let calls = reader.calls.load(ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(50))
            #expect(reader.calls.load(ordering: .relaxed) == calls, "no more events once deregistered")
        }
    }

    @Test func shuttingDownRunsWhatWasSubmittedAndFailsTimersNotYetDue() async throws {
        let loop = IOLoop(name: "test-loop")
        let ran = ManagedAtomic(0)
        for _ in 0..<100 { loop.execute { ran.wrappingIncrement(ordering: .relaxed) } }
        let pending = loop.scheduleTask(in: .seconds(30)) { 1 }
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        pending.futureResult.whenFailure { error in failure.withLockedValue { $0 = error } }
        try await loop.shutdownGracefully()
        #expect(ran.load(ordering: .relaxed) == 100)
        #expect(failure.withLockedValue { $0 } as? EventLoopError == .shutdown)
        try await loop.shutdownGracefully()  // a second shutdown returns at once
    }
}

/// Appends its name to a shared log each time a loop calls it back.
private final class CallbackRecorder: LoopDeferred, LoopTimerTarget, Sendable {
    let log: NIOLockedValueBox<[String]>
    let name: String
    private let calls = ManagedAtomic(0)
    init(_ log: NIOLockedValueBox<[String]>, _ name: String) {
        self.log = log
        self.name = name
    }
    var count: Int { calls.load(ordering: .relaxed) }
    func runDeferred() { record() }
    func loopTimerFired() { record() }
    private func record() {
        calls.wrappingIncrement(ordering: .relaxed)
        log.withLockedValue { $0.append(name) }
    }
}
