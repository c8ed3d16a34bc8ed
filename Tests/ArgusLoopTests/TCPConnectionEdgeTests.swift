import ArgusLoop
import Atomics
import CEpoll
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// Records what a connection reports.
final class Recorder: TCPConnectionDelegate, @unchecked Sendable {
    let received = NIOLockedValueBox<[UInt8]>([])
    let readEnded = ManagedAtomic(false)
    let closed = ManagedAtomic(false)
    let closeError = NIOLockedValueBox<(any Error)?>(nil)
    func connection(_ connection: TCPConnection, read bytes: ByteBuffer) {
        received.withLockedValue { $0 += bytes.readableBytesView }
    }
    func connectionReadEnded(_ connection: TCPConnection) { readEnded.store(true, ordering: .relaxed) }
    func connectionBecameWritable(_ connection: TCPConnection) {}
    func connectionClosed(_ connection: TCPConnection, error: (any Error)?) {
        closeError.withLockedValue { $0 = error }
        closed.store(true, ordering: .relaxed)
    }
}

@Suite("TCP connections on an IOLoop: edges")
struct TCPConnectionEdgeTests {
    /// A non-blocking socket pair: [0] for the connection, [1] for the test.
    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        return (fds[0], fds[1])
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<2_000 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func dataSentBeforeAHangUpWhileReadingIsPausedIsDeliveredWhenReadingResumes() async throws {
        let loop = IOLoop(name: "paused-hangup")
        let (mine, theirs) = socketPair()
        let recorder = Recorder()
        let connection = TCPConnection(fd: mine, loop: loop)
        try await loop.submit {
            connection.delegate = recorder
            try connection.start()
            connection.setReading(false)
        }.get()
        let text = "sent before the close"
        _ = text.utf8CString.withUnsafeBufferPointer { write(theirs, $0.baseAddress, text.utf8.count) }
        close(theirs)
        try await Task.sleep(for: .milliseconds(100))
        #expect(recorder.received.withLockedValue { $0 }.isEmpty, "nothing is read while paused")
        let closedWhilePaused = recorder.closed.load(ordering: .relaxed)
        #expect(!closedWhilePaused, "the hang-up does not drop the unread data")
        try await loop.submit { connection.setReading(true) }.get()
        try await waitUntil { recorder.closed.load(ordering: .relaxed) }
        #expect(String(decoding: recorder.received.withLockedValue { $0 }, as: UTF8.self) == text)
        let readEnded = recorder.readEnded.load(ordering: .relaxed)
        #expect(readEnded)
        #expect(recorder.closeError.withLockedValue { $0 } == nil)
        try await loop.shutdownGracefully()
    }

    @Test func moreBuffersThanOneWritevTakesGoOutInOrder() async throws {
        let loop = IOLoop(name: "many-buffers")
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        let recorder = Recorder()
        let connection = TCPConnection(fd: mine, loop: loop)
        // 300 buffers of 3 digits each: five writev batches of at most 64.
        let expected = (0..<300).map { String(format: "%03d", $0) }.joined()
        try await loop.submit {
            connection.delegate = recorder
            try connection.start()
            for i in 0..<300 { connection.write(ByteBuffer(string: String(format: "%03d", i))) }
            connection.flush()
        }.get()
        var got: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while got.count < expected.utf8.count {
            let n = chunk.withUnsafeMutableBytes { read(theirs, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += chunk[0..<n]
        }
        #expect(String(decoding: got, as: UTF8.self) == expected)
        try await loop.submit { #expect(connection.pendingBytes == 0) }.get()
        try await loop.shutdownGracefully()
    }

    @Test func aConnectThatGetsNoAnswerTimesOut() async throws {
        let loop = IOLoop(name: "connect-timeout")
        // A listener that never accepts, with the smallest backlog: once its queue is full the
        // kernel drops further SYNs, and a connect waits until its timeout.
        let listener = try TCPListener(host: "127.0.0.1", port: 0, backlog: 0, loop: loop) { close($0) }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: listener.port)
        var opened: [Int32] = []
        var timedOut = false
        for _ in 0..<16 where !timedOut {
            do {
                opened.append(try await TCPConnector.connect(to: address, on: loop, timeout: .milliseconds(300)).get())
            } catch let error as ChannelError {
                #expect(error == .connectTimeout(.milliseconds(300)))
                timedOut = true
            }
        }
        #expect(timedOut)
        for fd in opened { close(fd) }
        try await loop.submit { listener.close() }.get()
        try await loop.shutdownGracefully()
    }

    @Test func stoppingTheLoopClosesItsConnectionsAndFailsConnectsInProgress() async throws {
        let loop = IOLoop(name: "stop-closes")
        let (mine, theirs) = socketPair()
        defer { close(theirs) }
        let recorder = Recorder()
        let connection = TCPConnection(fd: mine, loop: loop)
        try await loop.submit {
            connection.delegate = recorder
            try connection.start()
        }.get()
        // A connect that cannot complete (as above: a full backlog) is in progress at shutdown.
        let listener = try TCPListener(host: "127.0.0.1", port: 0, backlog: 0, loop: loop) { close($0) }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: listener.port)
        var opened: [Int32] = []
        var pending: EventLoopFuture<Int32>?
        for _ in 0..<16 where pending == nil {
            let attempt = TCPConnector.connect(to: address, on: loop, timeout: .seconds(3600))
            let done = ManagedAtomic(false)
            attempt.whenComplete { _ in done.store(true, ordering: .relaxed) }
            try await Task.sleep(for: .milliseconds(100))
            if done.load(ordering: .relaxed) {
                if let fd = try? await attempt.get() { opened.append(fd) }
            } else {
                pending = attempt
            }
        }
        let stuck = try #require(pending)
        // Observed before the loop stops (a stopped loop runs no callback registered later).
        let outcome = NIOLockedValueBox<Result<Int32, any Error>?>(nil)
        stuck.whenComplete { result in outcome.withLockedValue { $0 = result } }
        try await loop.shutdownGracefully()
        let closed = recorder.closed.load(ordering: .relaxed)
        #expect(closed)
        #expect(recorder.closeError.withLockedValue { $0 } as? EventLoopError == .shutdown)
        let failure: (any Error)? = outcome.withLockedValue { result in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(failure as? EventLoopError == .shutdown)
        // The connection's descriptor was closed: the other end reads end-of-file.
        var byte: UInt8 = 0
        #expect(read(theirs, &byte, 1) == 0)
        for fd in opened { close(fd) }
        close(listener.fd)  // never started, so the stopped loop did not close it
    }
}
