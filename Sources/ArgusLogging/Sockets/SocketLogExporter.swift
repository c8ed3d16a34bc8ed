import ArgusConfig
import ArgusStatistics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The `tcp-log` and `udp-log` plugins' destinations: one ``SocketLogSender`` per instance and
/// target, each with its own queue, fed by ``LogExporter`` with the records it built (Kong's
/// record, the same bytes file-log and http-log get).
public final class SocketLogExporter: ReportsStatistics, Sendable {
    private let group: any EventLoopGroup
    /// Bytes queued per destination beyond which new records are dropped (and counted).
    public let maxQueueBytes: Int
    private let senders = NIOLockedValueBox<[String: SocketLogSender]>([:])
    /// Where the syslog plugin writes.
    public let syslogAddress: SyslogAddress

    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxQueueBytes: Int = 16 << 20,
        syslogAddress: SyslogAddress = .local(path: "/dev/log")
    ) {
        self.group = group
        self.maxQueueBytes = maxQueueBytes
        self.syslogAddress = syslogAddress
    }

    func target(of plugin: Plugin) -> SocketLogSender.Target? {
        let config = plugin.config
        if plugin.name == "datadog" || plugin.name == "loggly" {
            let defaults = plugin.name == "datadog" ? ("localhost", 8125) : ("logs-01.loggly.com", 514)
            var target = SocketLogSender.Target(
                kind: .udp, host: config["host"]?.stringValue ?? defaults.0, port: config["port"]?.intValue ?? defaults.1)
            target.sink = plugin.name
            return target
        }
        if plugin.name == "statsd" {
            // lines (joined into packets when asked) as the records: a datagram each, or `\n`-ended over TCP
            var target = SocketLogSender.Target(
                kind: config["use_tcp"]?.boolValue == true ? .tcp : .udp, host: config["host"]?.stringValue ?? "localhost",
                port: config["port"]?.intValue ?? 8125)
            target.sink = "statsd"
            return target
        }
        if plugin.name == "syslog" {
            var target = switch syslogAddress {
            case .local(let path): SocketLogSender.Target(kind: .syslog, host: "", port: 0, unixPath: path)
            case .udp(let host, let port): SocketLogSender.Target(kind: .syslog, host: host, port: port)
            }
            target.sink = "syslog"
            return target
        }
        guard let kind = SocketLogSender.Target.Kind(rawValue: plugin.name), let host = config["host"]?.stringValue,
              let port = config["port"]?.intValue
        else { return nil }
        var target = SocketLogSender.Target(kind: kind, host: host, port: port)
        target.tls = config["tls"]?.boolValue ?? false
        target.serverName = config["tls_sni"]?.stringValue
        target.timeoutMs = Int(config["timeout"]?.doubleValue ?? 10_000)
        target.keepaliveMs = Int(config["keepalive"]?.doubleValue ?? 60_000)
        return target
    }

    /// Queues `records` for `plugin`'s destination.
    func enqueue(_ records: [[UInt8]], plugin: Plugin) {
        guard let target = target(of: plugin) else { return }
        // (an instance whose target changed gets a sender of its own; the old one drains and stays counted)
        let key = "\(plugin.id) \(plugin.name) \(target.kind.rawValue) \(target.display) \(target.tls) \(target.serverName ?? "")"
        let sender: SocketLogSender? = senders.withLockedValue { senders in
            if let existing = senders[key] { return existing }
            guard let created = try? SocketLogSender(target: target, instance: plugin.id, loop: group.next(), maxQueueBytes: maxQueueBytes)
            else { return nil }
            senders[key] = created
            return created
        }
        sender?.enqueue(records)
    }

    /// Shutdown: waits (at most `grace`) for what is queued to be sent, then closes the connections.
    func finish(grace: TimeAmount = .seconds(5)) async {
        let all = senders.withLockedValue { Array($0.values) }
        for sender in all { try? await sender.drain(timeout: grace).get() }
        for sender in all { sender.close() }
    }

    public func statistics() -> [ExporterStatistic] {
        senders.withLockedValue { Array($0.values) }.sorted { ($0.instance, $0.target.display) < ($1.instance, $1.target.display) }
            .flatMap { $0.statistics() }
    }
}
