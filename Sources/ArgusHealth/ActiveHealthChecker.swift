import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ArgusTransport
import NIOSSL

/// Kong's active health checks: each upstream with an active interval has its targets probed
/// (`GET http_path`, over TLS for `type: https` with `https_sni` and `https_verify_certificate`,
/// or a TCP connect for `type: tcp`) every `healthy.interval` seconds while
/// healthy and every `unhealthy.interval` seconds while unhealthy, with `timeout`, at most
/// `concurrency` targets of an upstream at a time; results count with the active thresholds. Runs on its own event loop, never a proxy loop.
public final class ActiveHealthChecker: Sendable {
    public struct Upstream: Sendable {
        public var name: String
        public var settings: HealthcheckSettings
        public var targets: [TargetHealth]
        /// The upstream's `client_certificate`, presented by https probes.
        public var identity: ClientIdentity?

        public init(name: String, settings: HealthcheckSettings, targets: [TargetHealth], identity: ClientIdentity? = nil) {
            self.name = name
            self.settings = settings
            self.targets = targets
            self.identity = identity
        }
    }

    private let eventLoop: any EventLoop
    private let registry: HealthRegistry
    private let tasks: NIOLoopBoundBox<[RepeatedTask]>
    /// Probes in flight per upstream and per target, carried across config changes.
    private let state: NIOLoopBoundBox<CarriedState>
    private let probesRun = NIOLockedValueBox(0)
    /// `https` probes' TLS contexts: the ones the proxy's upstream connections use.
    private let tlsContexts: TLSClientContexts

    public init(eventLoop: any EventLoop, registry: HealthRegistry, tlsContexts: TLSClientContexts = .shared) {
        self.eventLoop = eventLoop
        self.registry = registry
        self.tlsContexts = tlsContexts
        tasks = NIOLoopBoundBox.makeBoxSendingValue([], eventLoop: eventLoop)
        state = NIOLoopBoundBox.makeBoxSendingValue(CarriedState(), eventLoop: eventLoop)
    }

    /// Replaces the checked upstreams (a new config). What is in flight carries over: a probe
    /// started under the previous config still counts against its upstream's `concurrency`, and a
    /// target is never probed twice at once.
    public func update(_ upstreams: [Upstream]) {
        eventLoop.execute { [self] in
            for task in tasks.value { task.cancel() }
            tasks.value = []
            var inFlight: [String: NIOLoopBoundBox<Int>] = [:]
            var probing: [String: ProbeState] = [:]
            for upstream in upstreams where upstream.settings.activeEnabled {
                // `concurrency`: at most this many of the upstream's targets are probed at once.
                let count = state.value.inFlight[upstream.name] ?? NIOLoopBoundBox.makeBoxSendingValue(0, eventLoop: eventLoop)
                inFlight[upstream.name] = count
                for target in upstream.targets {
                    let key = upstream.name + "|" + target.target
                    let probe = state.value.probing[key] ?? ProbeState(eventLoop: eventLoop)
                    probing[key] = probe
                    tasks.value.append(schedule(target, upstream.settings, identity: upstream.identity, inFlight: count, probe: probe))
                }
            }
            state.value = CarriedState(inFlight: inFlight, probing: probing)
        }
    }

    /// A target's probing state, kept across config changes.
    private final class ProbeState: Sendable {
        let busy: NIOLoopBoundBox<Bool>
        let next: NIOLoopBoundBox<NIODeadline>

        init(eventLoop: any EventLoop) {
            busy = NIOLoopBoundBox.makeBoxSendingValue(false, eventLoop: eventLoop)
            next = NIOLoopBoundBox.makeBoxSendingValue(NIODeadline.now(), eventLoop: eventLoop)
        }
    }

    private struct CarriedState {
        var inFlight: [String: NIOLoopBoundBox<Int>] = [:]
        var probing: [String: ProbeState] = [:]
    }

    public func stop() async {
        try? await eventLoop.submit { [self] in
            for task in tasks.value { task.cancel() }
            tasks.value = []
        }.get()
    }

    /// One probe loop per target: the delay after each probe depends on the target's state.
    private func schedule(
        _ target: TargetHealth, _ settings: HealthcheckSettings, identity: ClientIdentity?, inFlight: NIOLoopBoundBox<Int>,
        probe state: ProbeState
    ) -> RepeatedTask {
        // A tick every 100 ms decides whether the target's interval has passed (intervals differ
        // while healthy and while unhealthy; 0 means no probing in that state).
        let next = state.next
        let busy = state.busy
        return eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { [self] _ in
            let interval = target.isHealthy ? settings.healthyInterval : settings.unhealthyInterval
            guard interval > 0, !busy.value, NIODeadline.now() >= next.value, inFlight.value < settings.concurrency else { return }
            busy.value = true
            inFlight.value += 1
            probe(target, settings, identity: identity).whenComplete { result in
                busy.value = false
                inFlight.value -= 1
                next.value = .now() + .nanoseconds(Int64(interval * 1e9))
                self.registry.report((try? result.get()) ?? .tcpFailure, for: target, settings.active, check: "active")
            }
        }
    }

    /// `GET http_path` (status line read, connection closed), or a TCP connect.
    func probe(_ target: TargetHealth, _ settings: HealthcheckSettings, identity: ClientIdentity? = nil) -> EventLoopFuture<TargetHealth.Result> {
        let timeout = TimeAmount.nanoseconds(Int64(max(0.001, settings.timeoutSeconds) * 1e9))
        let promise = eventLoop.makePromise(of: TargetHealth.Result.self)
        let deadline = eventLoop.scheduleTask(in: timeout) { promise.succeed(.timeout) }
        let isTLS = settings.activeType == .https
        let isHTTP = settings.activeType == .http || isTLS
        let tls = isTLS ? tlsContext(verify: settings.httpsVerifyCertificate, identity: identity) : nil
        if isTLS && tls == nil { return eventLoop.makeSucceededFuture(.tcpFailure) }
        let serverName = settings.httpsSNI ?? target.host
        var request = "GET \(settings.httpPath) HTTP/1.1\r\nHost: \(target.host):\(target.port)\r\nUser-Agent: argus-healthcheck\r\nConnection: close\r\n"
        for (name, value) in settings.headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        let bytes = request
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // SNI only for a name (RFC 6066 forbids an IP address there)
                        let sni = (try? SocketAddress(ipAddress: serverName, port: 0)) == nil ? serverName : nil
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni))
                    }
                    if isHTTP { try channel.pipeline.syncOperations.addHandler(StatusLineReader(promise: promise)) }
                }
            }
            .connect(host: target.host, port: target.port)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    let timedOut = (error as? ChannelError).map { if case .connectTimeout = $0 { return true } else { return false } } ?? false
                    promise.succeed(timedOut ? .timeout : .tcpFailure)
                case .success(let channel):
                    if isHTTP {
                        channel.writeAndFlush(ByteBuffer(string: bytes), promise: nil)
                        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    } else {
                        promise.succeed(.status(settings.active.healthyStatuses.min() ?? 200))
                        channel.close(promise: nil)
                    }
                }
            }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        return promise.futureResult
    }

    private func tlsContext(verify: Bool, identity: ClientIdentity?) -> NIOSSLContext? {
        try? tlsContexts.context(verify: verify, trust: nil, identity: identity)
    }
}

/// Reads the status code of an HTTP response's status line.
private final class StatusLineReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<TargetHealth.Result>
    private let received = NIOLockedValueBox(ByteBuffer())

    init(promise: EventLoopPromise<TargetHealth.Result>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let line: String? = received.withLockedValue { buffer in
            buffer.writeBuffer(&bytes)
            guard let view = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            return buffer.getString(at: buffer.readerIndex, length: view - buffer.readerIndex)
        }
        guard let line else { return }
        let parts = line.split(separator: " ")
        if parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) {
            promise.succeed(.status(code))
        } else {
            promise.succeed(.tcpFailure)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(.tcpFailure)
    }
}
