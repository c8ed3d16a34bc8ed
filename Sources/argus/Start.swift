import ArgumentParser
import ArgusApp
import ArgusLogging
import ArgusProxy
import ArgusTransport
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// `argus start`: every option also reads `ARGUS_<NAME>` from the environment.
struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @Option(name: .long, help: "Declarative config file (kong.yml, YAML or JSON). Env: ARGUS_CONFIG. Default: none (embedded empty config).")
    var config: String?

    @Option(name: .customLong("proxy-listen"), help: "Proxy listeners, comma-separated HOST:PORT [ssl] [http2]. Env: ARGUS_PROXY_LISTEN. Default: 0.0.0.0:8000.")
    var proxyListen: String?

    @Option(name: .customLong("admin-listen"), help: "Admin API HOST:PORT [ssl]. Env: ARGUS_ADMIN_LISTEN. Default: 127.0.0.1:8001.")
    var adminListen: String?

    @Option(name: .customLong("status-listen"), help: "Status API HOST:PORT [ssl]. Env: ARGUS_STATUS_LISTEN. Default: 127.0.0.1:8100.")
    var statusListen: String?

    @Option(name: .customLong("ssl-cert"), help: "PEM certificate (chain) TLS listeners serve by default. Env: ARGUS_SSL_CERT. Default: a self-signed one kept in the data directory.")
    var sslCert: String?

    @Option(name: .customLong("ssl-cert-key"), help: "PEM key of --ssl-cert. Env: ARGUS_SSL_CERT_KEY.")
    var sslCertKey: String?

    @Option(name: .customLong("trusted-ca"), help: "CAs trusted when verifying upstreams and Redis (Kong's lua_ssl_trusted_certificate): comma-separated PEM files and/or 'system'. Env: ARGUS_TRUSTED_CA. Default: system.")
    var trustedCA: String?

    @Option(name: .customLong("ssl-handshake-timeout"), help: "Seconds a TLS client has to complete its handshake (nginx's ssl_handshake_timeout). Env: ARGUS_SSL_HANDSHAKE_TIMEOUT. Default: 60.")
    var sslHandshakeTimeout: Int?

    @Option(name: .customLong("keepalive-timeout"), help: "Seconds an idle client connection is kept open, HTTP/1.1 keep-alive or HTTP/2 without streams (nginx's keepalive_timeout). Env: ARGUS_KEEPALIVE_TIMEOUT. Default: 60.")
    var keepaliveTimeout: Int?

    @Option(name: .customLong("data-dir"), help: "Data directory. Env: ARGUS_DATA_DIR. Default: ./argus-data.")
    var dataDir: String?

    @Option(name: .long, help: "Event-loop threads. Env: ARGUS_WORKERS. Default: number of cores.")
    var workers: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical. Env: ARGUS_LOG_LEVEL. Default: info.")
    var logLevel: String?

    @Option(name: .customLong("trusted-ips"), help: "Comma-separated IPs/CIDRs whose X-Forwarded-* headers are trusted. Env: ARGUS_TRUSTED_IPS.")
    var trustedIPs: String?

    @Option(name: .customLong("real-ip-header"), help: "The header a trusted peer's client address is read from (kong.conf real_ip_header): X-Real-IP, X-Forwarded-For, or another. Env: ARGUS_REAL_IP_HEADER. Default: X-Real-IP.")
    var realIPHeader: String?

    @Option(name: .customLong("tracing-sampling-rate"), help: "The share of new traces sampled by an opentelemetry plugin without its own sampling_rate, 0 to 1 (kong.conf tracing_sampling_rate). Env: ARGUS_TRACING_SAMPLING_RATE. Default: 0.01.")
    var tracingSamplingRate: String?

    @Option(name: .customLong("real-ip-recursive"), help: "on: in a list of addresses, the last one not in --trusted-ips (kong.conf real_ip_recursive). Env: ARGUS_REAL_IP_RECURSIVE. Default: off.")
    var realIPRecursive: String?

    @Option(name: .customLong("syslog-address"), help: "Where the syslog plugin writes: a local datagram socket path, or udp://HOST:PORT. Env: ARGUS_SYSLOG_ADDRESS. Default: /dev/log.")
    var syslogAddress: String?

    @Option(name: .customLong("drain-timeout"), help: "Seconds SIGTERM waits for in-flight requests. Env: ARGUS_DRAIN_TIMEOUT. Default: 30.")
    var drainTimeout: Int?

    @Option(name: .customLong("admin-token"), help: "Token the Admin API requires (Authorization: Bearer, or Kong-Admin-Token); needed to listen on a non-loopback address. Env: ARGUS_ADMIN_TOKEN.")
    var adminToken: String?

    @Option(name: .customLong("dns-resolver"), help: "DNS server HOST:PORT for upstream target names (Kong's dns_resolver). Env: ARGUS_DNS_RESOLVER. Default: the first nameserver of /etc/resolv.conf.")
    var dnsResolver: String?

    @Option(name: .customLong("admin-body-limit"), help: "Largest Admin API request body in bytes (413 beyond). Env: ARGUS_ADMIN_BODY_LIMIT. Default: 10485760.")
    var adminBodyLimit: Int?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        func value(_ option: String?, _ name: String) -> String? { option ?? env["ARGUS_\(name)"] }

        let levelText = value(logLevel, "LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else { fail("invalid log level '\(levelText)'") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "argus")

        var settings = GatewaySettings()
        do {
            settings.configPath = value(config, "CONFIG")
            if let text = value(proxyListen, "PROXY_LISTEN") {
                settings.proxyListeners = try ListenAddress.list(parsing: text)
                if settings.proxyListeners.isEmpty { fail("invalid proxy listen '\(text)': at least one listener is needed") }
            }
            if let text = value(adminListen, "ADMIN_LISTEN") { settings.adminListen = try ListenAddress(parsing: text) }
            if let text = value(statusListen, "STATUS_LISTEN") { settings.statusListen = try ListenAddress(parsing: text) }
            if let text = value(dnsResolver, "DNS_RESOLVER") { settings.dnsResolver = try ListenAddress(parsing: text) }
        } catch {
            fail(error.description)
        }
        if let dir = value(dataDir, "DATA_DIR") { settings.dataDirectory = dir }
        switch (value(sslCert, "SSL_CERT"), value(sslCertKey, "SSL_CERT_KEY")) {
        case (let cert?, let key?): settings.sslCertificate = (cert, key)
        case (nil, nil): break
        default: fail("--ssl-cert and --ssl-cert-key go together")
        }
        if let text = value(workers.map(String.init), "WORKERS") {
            guard let n = Int(text), n >= 1, n <= 1024 else { fail("invalid workers '\(text)': expected 1 to 1024") }
            settings.workers = n
        }
        if let text = value(drainTimeout.map(String.init), "DRAIN_TIMEOUT") {
            guard let n = Int(text), n >= 0 else { fail("invalid drain timeout '\(text)': expected seconds >= 0") }
            settings.drainTimeout = .seconds(Int64(n))
        }
        if let text = value(trustedCA, "TRUSTED_CA") {
            do {
                settings.trustedCAs = try TrustedCAs(parsing: text)
            } catch {
                fail("invalid trusted CA '\(text)': \(error)")
            }
        }
        if let text = value(sslHandshakeTimeout.map(String.init), "SSL_HANDSHAKE_TIMEOUT") {
            guard let n = Int(text), n >= 1 else { fail("invalid ssl handshake timeout '\(text)': expected seconds >= 1") }
            settings.proxy.tlsHandshakeTimeout = .seconds(Int64(n))
        }
        if let text = value(keepaliveTimeout.map(String.init), "KEEPALIVE_TIMEOUT") {
            guard let n = Int(text), n >= 1 else { fail("invalid keepalive timeout '\(text)': expected seconds >= 1") }
            settings.proxy.clientIdleTimeout = .seconds(Int64(n))
        }
        if let token = value(adminToken, "ADMIN_TOKEN"), !token.isEmpty { settings.adminToken = token }
        if let text = value(adminBodyLimit.map(String.init), "ADMIN_BODY_LIMIT") {
            guard let n = Int(text), n >= 1 else { fail("invalid admin body limit '\(text)': expected bytes >= 1") }
            settings.adminBodyLimit = n
        }
        if let text = value(trustedIPs, "TRUSTED_IPS") {
            do { settings.proxy.trustedIPs = try TrustedIPs(parsing: text) } catch { fail("\(error)") }
        }
        if let text = value(syslogAddress, "SYSLOG_ADDRESS") {
            guard let address = SyslogAddress(parsing: text) else {
                fail("invalid syslog address '\(text)': expected a socket path or udp://HOST:PORT")
            }
            settings.syslogAddress = address
        }
        if let text = value(realIPHeader, "REAL_IP_HEADER") {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                fail("invalid real IP header '\(text)': expected a header name such as X-Forwarded-For")
            }
            settings.proxy.realIP.header = text.lowercased()
        }
        if let text = value(tracingSamplingRate, "TRACING_SAMPLING_RATE") {
            guard let rate = Double(text), rate >= 0, rate <= 1 else { fail("invalid tracing sampling rate '\(text)': expected a number from 0 to 1") }
            settings.proxy.tracingSamplingRate = rate
        }
        if let text = value(realIPRecursive, "REAL_IP_RECURSIVE") {
            switch text.lowercased() {
            case "on": settings.proxy.realIP.recursive = true
            case "off": settings.proxy.realIP.recursive = false
            default: fail("invalid real IP recursive '\(text)': expected on or off")
            }
        }

        let gateway: Gateway
        do {
            gateway = try Gateway(settings: settings, logger: logger)
            try await gateway.start()
        } catch {
            fail(error.description)
        }
        let group = ServiceGroup(services: [gateway], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// Prints a one-line (or, for config errors, one line per problem) reason and exits 1.
    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("argus: \(message)\n".utf8))
        Foundation.exit(1)
    }
}
