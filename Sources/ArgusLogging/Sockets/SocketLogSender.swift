import ArgusStatistics
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// One `tcp-log` or `udp-log` destination: its records queued in memory (bounded; past the bound
/// new records are dropped and counted) and sent from a SwiftNIO event loop of its own, off the
/// request path and off the exporter's task. TCP: newline-terminated records written in batches
/// on one connection kept open for `keepalive`, TLS when asked (no verification, as Kong's
/// `sslhandshake(false, …)`); a batch whose write fails goes back to the head of the queue and is
/// sent again once the connection is back (at least once: never silently lost). UDP: a datagram
/// per record; one that can not be sent is counted dropped. syslog: a datagram per record (already
/// framed), to a local socket (`/dev/log`) or over UDP.
final class SocketLogSender: @unchecked Sendable {
    struct Target: Hashable, Sendable {
        enum Kind: String, Sendable { case tcp = "tcp-log", udp = "udp-log", syslog }
        var kind: Kind
        var host: String
        var port: Int
        /// syslog to a local datagram socket (`/dev/log`) rather than over UDP to `host:port`.
        var unixPath: String?
        var tls = false
        var serverName: String?
        var timeoutMs = 10_000
        var keepaliveMs = 60_000
        /// The plugin whose destination this is (the `sink` label): tcp-log, udp-log, syslog, statsd.
        var sink: String?

        var display: String { unixPath ?? "\(host):\(port)" }
    }

    struct Counters: Sendable {
        var sent: UInt64 = 0
        var dropped: UInt64 = 0
        var failures: UInt64 = 0
        var queuedBytes = 0
        var queuedRecords = 0
    }

    let target: Target
    let instance: String
    private let loop: any EventLoop
    private let maxQueueBytes: Int
    private let tlsContext: NIOSSLContext?
    let counters = NIOLockedValueBox(Counters())

    // Loop state.
    private var queue: [ByteBuffer] = []
    private var inFlight: [ByteBuffer]?
    private var channel: (any Channel)?
    private var udpAddress: SocketAddress?
    /// The local syslog socket (a plain datagram socket: written to at once, never blocking).
    private var unixSocket: Int32 = -1
    private var connecting = false
    private var retry: Scheduled<Void>?
    private var idle: Scheduled<Void>?
    private var backoff = TimeAmount.milliseconds(100)
    private var drained: [EventLoopPromise<Void>] = []

    init(target: Target, instance: String, loop: any EventLoop, maxQueueBytes: Int) throws {
        self.target = target
        self.instance = instance
        self.loop = loop
        self.maxQueueBytes = maxQueueBytes
        if target.tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tlsContext = try NIOSSLContext(configuration: configuration)
        } else {
            tlsContext = nil
        }
    }

    /// Queues `records` (JSON objects, no separators) and sends them as soon as it can.
    func enqueue(_ records: [[UInt8]]) {
        var buffers: [ByteBuffer] = []
        buffers.reserveCapacity(records.count)
        for record in records {
            var buffer = ByteBufferAllocator().buffer(capacity: record.count + 1)
            buffer.writeBytes(record)
            if target.kind == .tcp { buffer.writeInteger(UInt8(ascii: "\n")) }
            buffers.append(buffer)
        }
        let admitted: Int = counters.withLockedValue { c in
            // (the bound is checked here, on the exporter's side, so that a stalled destination
            // never grows the loop's queue past it)
            var taken = 0
            for buffer in buffers {
                guard c.queuedBytes + buffer.readableBytes <= maxQueueBytes else { break }
                c.queuedBytes += buffer.readableBytes
                c.queuedRecords += 1
                taken += 1
            }
            c.dropped += UInt64(buffers.count - taken)
            return taken
        }
        guard admitted > 0 else { return }
        let accepted = Array(buffers.prefix(admitted))
        loop.execute {
            self.queue += accepted
            self.pump()
        }
    }

    /// Resolves once everything queued now was sent (or `timeout` passed).
    func drain(timeout: TimeAmount) -> EventLoopFuture<Void> {
        loop.flatSubmit {
            if self.queue.isEmpty && self.inFlight == nil { return self.loop.makeSucceededVoidFuture() }
            let promise = self.loop.makePromise(of: Void.self)
            self.drained.append(promise)
            self.loop.scheduleTask(in: timeout) { promise.succeed(()) }
            return promise.futureResult
        }
    }

    func close() {
        loop.execute {
            if self.unixSocket >= 0 { _ = Glibc.close(self.unixSocket) }
            self.unixSocket = -1
            self.retry?.cancel()
            self.idle?.cancel()
            self.channel?.close(promise: nil)
            self.channel = nil
        }
    }

    // MARK: - On the loop

    private func pump() {
        guard inFlight == nil, !connecting, retry == nil else { return }
        guard !queue.isEmpty else {
            for promise in drained { promise.succeed(()) }
            drained = []
            armIdleClose()
            return
        }
        idle?.cancel()
        idle = nil
        if let path = target.unixPath {
            sendLocal(path)
            return
        }
        guard let channel, channel.isActive else {
            connect()
            return
        }
        let batch = queue
        queue = []
        inFlight = batch
        let written: EventLoopFuture<Void>
        switch target.kind {
        case .tcp:
            for buffer in batch.dropLast() { channel.write(buffer, promise: nil) }
            written = channel.writeAndFlush(batch.last!)
        case .udp, .syslog:
            guard let address = udpAddress else { return }
            var futures: [EventLoopFuture<Void>] = []
            for buffer in batch {
                futures.append(channel.write(AddressedEnvelope(remoteAddress: address, data: buffer)))
            }
            channel.flush()
            written = EventLoopFuture.andAllComplete(futures, on: loop)
        }
        written.whenComplete { result in
            self.inFlight = nil
            let bytes = batch.reduce(0) { $0 + $1.readableBytes }
            switch result {
            case .success:
                self.backoff = .milliseconds(100)
                self.counters.withLockedValue { c in
                    c.sent += UInt64(batch.count)
                    c.queuedBytes -= bytes
                    c.queuedRecords -= batch.count
                }
                self.pump()
            case .failure:
                if self.target.kind != .tcp {
                    // datagrams are not sent again: counted as dropped
                    self.counters.withLockedValue { c in
                        c.dropped += UInt64(batch.count)
                        c.failures += 1
                        c.queuedBytes -= bytes
                        c.queuedRecords -= batch.count
                    }
                    self.pump()
                } else {
                    self.counters.withLockedValue { $0.failures += 1 }
                    self.queue = batch + self.queue
                    self.channel?.close(promise: nil)
                    self.channel = nil
                    self.scheduleRetry()
                }
            }
        }
    }

    private func connect() {
        connecting = true
        let connected: EventLoopFuture<any Channel>
        switch target.kind {
        case .tcp:
            let context = tlsContext, serverName = target.serverName ?? Self.nameForSNI(target.host)
            connected = ClientBootstrap(group: loop)
                .connectTimeout(.milliseconds(Int64(target.timeoutMs)))
                .channelInitializer { channel in
                    guard let context else { return channel.eventLoop.makeSucceededVoidFuture() }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    }
                }
                .connect(host: target.host, port: target.port)
        case .udp, .syslog:
            let host = target.host, port = target.port
            connected = DatagramBootstrap(group: loop).bind(host: host.contains(":") ? "::" : "0.0.0.0", port: 0).flatMapThrowing { channel in
                self.udpAddress = try SocketAddress.makeAddressResolvingHost(host, port: port)
                return channel
            }
        }
        connected.whenComplete { result in
            self.connecting = false
            switch result {
            case .success(let channel):
                self.channel = channel
                channel.closeFuture.whenComplete { _ in
                    if self.channel === channel { self.channel = nil }
                }
                self.pump()
            case .failure:
                self.counters.withLockedValue { $0.failures += 1 }
                self.scheduleRetry()
            }
        }
    }

    private func scheduleRetry() {
        let delay = backoff
        backoff = min(backoff * 2, .seconds(10))
        retry = loop.scheduleTask(in: delay) {
            self.retry = nil
            self.pump()
        }
    }

    /// Writes the queue to the local syslog socket, a datagram per record: one the socket does not
    /// take (no syslog daemon, its buffer full) is counted dropped, as a datagram lost.
    private func sendLocal(_ path: String) {
        if unixSocket < 0 { unixSocket = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(capacity - 1).enumerated() { raw[i] = byte }
        }
        let batch = queue
        queue = []
        var sent = 0, failed = 0, bytes = 0
        for buffer in batch {
            bytes += buffer.readableBytes
            let result = buffer.withUnsafeReadableBytes { data in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(unixSocket, data.baseAddress, data.count, Int32(MSG_NOSIGNAL), $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            if result >= 0 { sent += 1 } else { failed += 1 }
        }
        counters.withLockedValue { c in
            c.sent += UInt64(sent)
            c.dropped += UInt64(failed)
            if failed > 0 { c.failures += 1 }
            c.queuedBytes -= bytes
            c.queuedRecords -= batch.count
        }
        for promise in drained { promise.succeed(()) }
        drained = []
    }

    /// A TCP connection with nothing to send closes after `keepalive` (Kong's `setkeepalive`).
    private func armIdleClose() {
        guard target.kind == .tcp, channel != nil, idle == nil else { return }
        idle = loop.scheduleTask(in: .milliseconds(Int64(target.keepaliveMs))) {
            self.idle = nil
            guard self.queue.isEmpty, self.inFlight == nil else { return }
            self.channel?.close(promise: nil)
            self.channel = nil
        }
    }

    /// SNI carries names only.
    static func nameForSNI(_ host: String) -> String? {
        if host.contains(":") || host.split(separator: ".").allSatisfy({ Int($0) != nil }) { return nil }
        return host
    }

    func statistics() -> [ExporterStatistic] {
        let c = counters.withLockedValue { $0 }
        let labels = [
            ExporterStatistic.Label("sink", target.sink ?? target.kind.rawValue), .init("instance", instance), .init("destination", target.display),
        ]
        func record(_ outcome: String, _ value: UInt64) -> ExporterStatistic {
            .init(family: "argus_log_records_total", kind: .counter, help: "Log records by sink and outcome",
                  labels: labels + [.init("outcome", outcome)], value: Double(value))
        }
        return [
            record("sent", c.sent), record("dropped", c.dropped),
            .init(family: "argus_log_write_errors_total", kind: .counter, help: "Failed writes to a log destination",
                  labels: labels, value: Double(c.failures)),
            .init(family: "argus_log_queue_bytes", kind: .gauge, help: "Bytes of log records waiting to be written",
                  labels: labels, value: Double(c.queuedBytes)),
        ]
    }
}
