import CEpoll
import Glibc
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// An event loop of Argus's own: one thread, one epoll instance, timers, and tasks from any
/// thread. It implements SwiftNIO's `EventLoop`, so futures, promises, `hop(to:)` and scheduled
/// tasks work on it as on NIO's loops, and it lets file descriptors be watched directly
/// (``register(_:events:handler:)``): the ground for a proxy transport without a channel
/// pipeline per connection (see BENCHMARKS.md, "the transport floor").
///
/// Tasks and timers are kept under one lock; the loop's thread takes them in batches. The loop
/// sleeps in `epoll_wait` and is woken through an eventfd only when it is asleep.
///
/// `@unchecked Sendable`: the mutable state is either guarded by `lock` (`tasks`, `timers`,
/// `sleeping`, `wakeRequested`, `closing`, `closed`) or touched only on the loop's thread
/// (`handlers`, the read buffer); `threadID` is atomic (set when the thread starts, cleared when it stops, so that a
/// later thread reusing the id is not taken for the loop's).
public final class IOLoop: EventLoop, @unchecked Sendable {
    private let epfd: Int32
    private let wakeFD: Int32
    private let threadID = Atomic<UInt>(0)
    private let lock = NIOLock()
    /// Tasks, from any thread, in the order they were submitted (one queue, as NIO's loops keep).
    private var tasks: [LoopTask] = []
    /// The batch array `runTasks` swaps with `tasks` and keeps between rounds (loop thread only),
    /// so that queueing a task allocates nothing once the arrays have grown.
    private var spareTasks: [LoopTask] = []
    private var timers = TimerQueue()
    private var sleeping = false
    private var wakeRequested = false
    private var closing = false
    private var closed = false
    /// Tasks submitted from other threads (each one a thread hop), under `lock`.
    private var hops = 0
    private var shutdownCallbacks: [(DispatchQueue, @Sendable ((any Error)?) -> Void)] = []
    // Loop thread only.
    private var handlers: [(generation: UInt32, handler: any IOHandler)?] = []
    private var nextGeneration: UInt32 = 0
    private var readBuffer: ByteBuffer?
    /// Size of the loop's read buffer: the most one read takes.
    public static let readBufferSize = 64 * 1024

    /// Starts the loop's thread, named `name`.
    public init(name: String = "argus-loop") {
        // A write to a socket the peer has reset must fail with EPIPE, not kill the process.
        _ = Self.ignoreSIGPIPE
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epfd >= 0 && wakeFD >= 0, "epoll_create1/eventfd failed: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = UInt64(UInt32(bitPattern: wakeFD))
        _ = epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &event)
        let started = ConditionLock(value: false)
        // The thread keeps the loop alive until it is shut down, as NIO's loops are.
        let thread = Thread { [self] in
            Self.nameThisThread(name)
            self.threadID.store(UInt(pthread_self()), ordering: .releasing)
            started.lock()
            started.unlock(withValue: true)
            self.run()
        }
        thread.name = name
        thread.start()
        started.lock(whenValue: true)
        started.unlock()
    }

    // MARK: - EventLoop

    public var inEventLoop: Bool { threadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    private static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// The OS thread's name as `top -H` and `/proc/<pid>/task/*/comm` show it (15 bytes at most;
    /// Foundation's `Thread.name` does not reach the kernel on Linux). ArgusEvents' `ThreadName`
    /// does the same for the exporters' threads; this module sits below it.
    private static func nameThisThread(_ name: String) {
        let fd = Glibc.open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        _ = Glibc.close(fd)
    }

    public var now: NIODeadline { .now() }

    /// Tasks submitted from other threads so far: each one a thread hop onto this loop (a future
    /// completed elsewhere, an `execute` from another thread). The data path's own work adds none.
    public var tasksFromOtherThreads: Int { lock.withLock { hops } }

    public func execute(_ task: @escaping @Sendable () -> Void) {
        let local = inEventLoop
        lock.withLock {
            // After shutdown a task is dropped, as on NIO's loops (nothing may run on a stopped loop).
            guard !closed else { return }
            if !local { hops &+= 1 }
            tasks.append(.closure(task))
            if sleeping { wakeUpLocked() }
        }
    }

    /// Queues `target`'s ``LoopDeferred/runDeferred()`` behind the tasks already queued, as
    /// ``execute(_:)`` would a closure calling it, without allocating one: the data path's
    /// per-request deferrals (an HTTP/2 session's flush, a stream's end). Loop thread only.
    public func executeDeferred(_ target: any LoopDeferred) {
        preconditionInEventLoop()
        lock.withLock {
            guard !closed else { return }
            tasks.append(.deferred(LoopBound(target)))
        }
    }

    /// Queues `task` unless the loop has stopped; false when it was dropped. Unlike ``execute(_:)``
    /// and futures observed from other threads (whose callbacks are queued the same way), a
    /// caller learns that nothing will run, rather than wait forever.
    public func executeIfRunning(_ task: @escaping @Sendable () -> Void) -> Bool {
        let local = inEventLoop
        return lock.withLock {
            guard !closed else { return false }
            if !local { hops &+= 1 }
            tasks.append(.closure(task))
            if sleeping { wakeUpLocked() }
            return true
        }
    }

    /// Runs `body` on the loop and returns its result, or `stopped` if the loop has stopped (a
    /// task queued before it stopped still runs: the loop runs its queue out before it ends).
    public func perform<T: Sendable>(_ body: @escaping @Sendable () -> T, ifStopped stopped: T) async -> T {
        await withCheckedContinuation { continuation in
            if !executeIfRunning({ continuation.resume(returning: body()) }) { continuation.resume(returning: stopped) }
        }
    }

    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        // The task runs on this loop, which is where the promise is completed: nothing crosses threads.
        let run: @Sendable () -> Void = { promise.assumeIsolatedUnsafeUnchecked().completeWith(Result { try task() }) }
        let id: UInt64? = lock.withLock {
            if closed { return nil }
            let earliest = timers.earliestDeadline()
            let id = timers.schedule(at: deadline.uptimeNanoseconds, run, fail: { promise.fail(EventLoopError.shutdown) })
            let sooner = earliest.map { deadline.uptimeNanoseconds < $0 } ?? true
            if sooner && sleeping && !closed { wakeUpLocked() }  // it sleeps until the old earliest deadline
            return id
        }
        guard let id else {
            promise.fail(EventLoopError.shutdown)
            return Scheduled(promise: promise) {}
        }
        return Scheduled(promise: promise) { [self] in
            if lock.withLock({ timers.cancel(id) }) { promise.fail(EventLoopError.cancelled) }
        }
    }

    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    /// Runs `task` at `deadline` without the promise and `Scheduled` that ``scheduleTask(deadline:_:)``
    /// makes: the data path's timers (one per request on HTTP/2 streams), where the promise and the
    /// error its cancellation fails it with were most of a timer's cost. Loop thread only; nil if
    /// the loop has stopped (nothing will run).
    public func scheduleTimer(deadline: NIODeadline, _ task: @escaping () -> Void) -> LoopTimer? {
        preconditionInEventLoop()
        let run = LoopBound(task)
        // (the loop's thread is this one: it is not asleep, and it reads the earliest deadline
        // before it sleeps, so there is nothing to wake)
        return lock.withLock {
            if closed { return nil }
            return LoopTimer(id: timers.schedule(at: deadline.uptimeNanoseconds, { run.value() }, fail: {}))
        }
    }

    /// Calls `target`'s ``LoopTimerTarget/loopTimerFired()`` at `deadline`, holding it until then:
    /// ``scheduleTimer(deadline:_:)`` without the closure (the data path's per-request timer).
    /// Loop thread only; nil if the loop has stopped.
    public func scheduleTimer(deadline: NIODeadline, target: any LoopTimerTarget) -> LoopTimer? {
        preconditionInEventLoop()
        return lock.withLock {
            if closed { return nil }
            return LoopTimer(id: timers.schedule(at: deadline.uptimeNanoseconds, .target(LoopBound(target))))
        }
    }

    /// Cancels a timer of ``scheduleTimer(deadline:_:)`` (nothing if it ran already).
    public func cancelTimer(_ timer: LoopTimer) {
        _ = lock.withLock { timers.cancel(timer.id) }
    }

    public func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not on this IOLoop's thread", file: file, line: line)
    }

    public func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "on this IOLoop's thread", file: file, line: line)
    }

    /// Stops the loop once the tasks already submitted have run; scheduled tasks not yet due fail
    /// with `EventLoopError.shutdown`. `callback` runs on `queue` when the thread has stopped.
    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        let alreadyClosed: Bool = lock.withLock {
            if closed { return true }
            shutdownCallbacks.append((queue, callback))
            closing = true
            if !inEventLoop { wakeUpLocked() }
            return false
        }
        if alreadyClosed { queue.async { callback(nil) } }
    }

    // MARK: - File descriptors

    /// Watches `fd` for `events` (`EPOLLIN`, `EPOLLOUT`, …; level-triggered unless `EPOLLET` is
    /// included); `handler` is called on this loop until ``deregister(_:)``. Loop thread only.
    public func register(_ fd: Int32, events: UInt32, handler: any IOHandler) throws {
        preconditionInEventLoop(file: #file, line: #line)
        nextGeneration &+= 1
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(nextGeneration) << 32 | UInt64(UInt32(bitPattern: fd))
        guard epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) == 0 else { throw IOError(errnoCode: errno, reason: "epoll_ctl(ADD)") }
        if handlers.count <= Int(fd) { handlers.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - handlers.count)) }
        handlers[Int(fd)] = (nextGeneration, handler)
    }

    /// Changes the events `fd` is watched for. Loop thread only.
    public func modify(_ fd: Int32, events: UInt32) throws {
        preconditionInEventLoop(file: #file, line: #line)
        guard Int(fd) < handlers.count, let entry = handlers[Int(fd)] else { return }
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(entry.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        guard epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0 else { throw IOError(errnoCode: errno, reason: "epoll_ctl(MOD)") }
    }

    /// Stops watching `fd` (call it before closing `fd`). Loop thread only.
    public func deregister(_ fd: Int32) {
        preconditionInEventLoop(file: #file, line: #line)
        guard Int(fd) < handlers.count, handlers[Int(fd)] != nil else { return }
        handlers[Int(fd)] = nil
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
    }

    /// The loop's read buffer, empty, for one read (``giveBackReadBuffer(_:)`` after). Its memory
    /// is reused from read to read while nothing else holds it. Loop thread only.
    public func takeReadBuffer() -> ByteBuffer {
        guard var buffer = readBuffer.take() else { return ByteBufferAllocator().buffer(capacity: Self.readBufferSize) }
        buffer.clear()
        return buffer
    }

    public func giveBackReadBuffer(_ buffer: ByteBuffer) {
        readBuffer = buffer
    }

    // MARK: - The loop

    /// Writes the eventfd unless a wake-up is already on its way. Under `lock`, so that it never
    /// writes to a descriptor ``finish()`` has closed (and the kernel may have given to someone else).
    private func wakeUpLocked() {
        guard !wakeRequested else { return }
        wakeRequested = true
        _ = eventfd_write(wakeFD, 1)
    }

    private func run() {
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while true {
            let timeout: Int32 = lock.withLock {
                if !tasks.isEmpty || closing { return 0 }
                sleeping = true
                guard let deadline = timers.earliestDeadline() else { return -1 }
                let now = DispatchTime.now().uptimeNanoseconds
                if deadline <= now { return 0 }
                return Int32(clamping: (deadline - now + 999_999) / 1_000_000)  // rounded up to a ms
            }
            let n = epoll_wait(epfd, events, Int32(capacity), timeout)
            lock.withLock {
                sleeping = false
                wakeRequested = false
            }
            if n > 0 {
                for i in 0..<Int(n) {
                    let data = events[i].data.u64
                    let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
                    if fd == wakeFD {
                        var value: eventfd_t = 0
                        _ = eventfd_read(wakeFD, &value)
                        continue
                    }
                    // A stale event (the descriptor was deregistered, or reused, earlier in this batch) is skipped.
                    guard Int(fd) < handlers.count, let entry = handlers[Int(fd)], entry.generation == UInt32(data >> 32) else { continue }
                    entry.handler.ioReady(events[i].events)
                }
            }
            // Due timers one at a time, so that one may still cancel another due in the same round.
            let now = DispatchTime.now().uptimeNanoseconds
            while let due = lock.withLock({ timers.takeNextDue(now: now) }) { due.run() }
            runTasks()
            if lock.withLock({ closing && tasks.isEmpty }) { break }
        }
        finish()
    }

    /// Runs the tasks queued so far (tasks they queue run in the next round, after I/O).
    private func runTasks() {
        var batch = spareTasks
        spareTasks = []
        lock.withLock { swap(&batch, &tasks) }
        for task in batch {
            switch task {
            case .closure(let run): run()
            case .deferred(let bound): bound.value.runDeferred()
            }
        }
        batch.removeAll(keepingCapacity: true)
        spareTasks = batch
    }

    private func finish() {
        let (pendingTimers, callbacks) = lock.withLock { () -> ([@Sendable () -> Void], [(DispatchQueue, @Sendable ((any Error)?) -> Void)]) in
            closed = true
            let callbacks = shutdownCallbacks
            shutdownCallbacks = []
            return (timers.takeAll(), callbacks)
        }
        for fail in pendingTimers { fail() }  // EventLoopError.shutdown, on this thread
        runTasks()  // what those failures queued
        // What is still registered is closed (connections tell their delegates, connects in
        // progress fail), so that no descriptor outlives its loop.
        let remaining = handlers.compactMap { $0?.handler }
        for handler in remaining { handler.loopStopping() }
        handlers.removeAll()
        threadID.store(0, ordering: .releasing)
        lock.withLock {  // `closed` is set: nobody writes the eventfd any more
            _ = Glibc.close(wakeFD)
            _ = Glibc.close(epfd)
        }
        for (queue, callback) in callbacks { queue.async { callback(nil) } }
    }
}

/// A timer of ``IOLoop/scheduleTimer(deadline:_:)``.
public struct LoopTimer: Sendable, Equatable {
    let id: UInt64
}

/// An object a loop calls back at a timer's deadline (``IOLoop/scheduleTimer(deadline:target:)``).
public protocol LoopTimerTarget: AnyObject {
    func loopTimerFired()
}

/// An object whose deferred work a loop runs with its queued tasks (``IOLoop/executeDeferred(_:)``).
public protocol LoopDeferred: AnyObject {
    func runDeferred()
}

/// A task in the loop's queue: a closure from any thread, or a loop-thread object's deferral.
enum LoopTask {
    case closure(@Sendable () -> Void)
    case deferred(LoopBound<any LoopDeferred>)
}

/// A loop-thread object or closure carried through the loop's (locked, Sendable) queues and timer
/// table: it is only ever touched on the thread that queued it.
struct LoopBound<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
