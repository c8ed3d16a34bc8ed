import ArgusEvents
import ArgusLogging
import ArgusProxy
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

// The gateway's parts as ServiceLifecycle services. `Gateway.run()` runs them in one
// `ServiceGroup`, in this order: control plane, exporters, proxy, control listeners, signals.
// The group shuts them down in the reverse order, each one finished before the next begins:
// no more reloads, then no more Admin/Status requests, then the proxy drains, then the
// exporters deliver every event the drained requests published, then the control plane
// (sync_rate flushes, DNS, health probes, the database) stops.

/// The proxy, accepting since `Gateway.start()`: on graceful shutdown it stops accepting, lets
/// the requests in flight finish (bounded by the drain timeout) and stops its loops.
struct ProxyService: ServiceLifecycle.Service {
    let proxy: ProxyServer
    let drainTimeout: TimeAmount
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down", metadata: ["drain_timeout_ms": "\(drainTimeout.nanoseconds / 1_000_000)"])
        await proxy.shutdown(drainTimeout: drainTimeout)
    }
}

/// The Admin and Status listeners (on the control plane's loop): closed first, so that nothing
/// changes the configuration while the proxy drains.
struct ControlListenersService: ServiceLifecycle.Service {
    let listeners: [ControlServer]

    func run() async throws {
        try? await gracefulShutdown()
        for listener in listeners { await listener.close() }
    }
}

/// The exporters draining the event ring (Prometheus, the log sinks, any extra): they stop
/// after the proxy, once every event published before it stopped was delivered.
struct ExportersService: ServiceLifecycle.Service {
    let runners: [ExporterRunner]

    func run() async throws {
        await withTaskGroup(of: Void.self) { tasks in
            for runner in runners {
                tasks.addTask { await runner.run() }
            }
            try? await gracefulShutdown()
            for runner in runners { runner.stop() }
            await tasks.waitForAll()
        }
    }
}

/// SIGHUP re-reads the config file; SIGUSR1 reopens log files (logrotate's postrotate), as nginx does.
struct SignalsService: ServiceLifecycle.Service {
    let hangups: UnixSignalsSequence
    let reload: @Sendable () -> Void
    let reopenLogs: @Sendable () -> Void

    func run() async throws {
        let usr1 = await UnixSignalsSequence(trapping: .sigusr1)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { reload() }
            }
            tasks.addTask {
                for await _ in usr1.cancelOnGracefulShutdown() { reopenLogs() }
            }
        }
    }
}

/// What runs beside the data path on the control plane's loop and must outlive it: the
/// `sync_rate` syncer (what the drained requests counted goes to Redis), DNS refresh, active
/// health probes, the usage reader, the Admin API's database; stopped last.
struct ControlPlaneService: ServiceLifecycle.Service {
    let stop: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}
