import Foundation
import NIOConcurrencyHelpers

/// A real DNS server, Debian's dnsmasq, on a free loopback UDP port, answering only from its
/// command line (`--host-record`, `--srv-host`) and a hosts directory the test may rewrite
/// (dnsmasq watches it and reads a changed file at once), with 1 s TTLs. Stopped by PID with
/// SIGKILL: the test process ignores SIGTERM and SIGHUP (the gateway traps them), and a child
/// inherits ignored signals. Enabled when the binary
/// exists, or always with `ARGUS_REQUIRE_DNSMASQ=1` (the test script sets it).
final class DNSServer: Sendable {
    static let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { binary != nil || ProcessInfo.processInfo.environment["ARGUS_REQUIRE_DNSMASQ"] == "1" }

    let port: Int
    let directory: String
    private let process = NIOLockedValueBox<Process?>(nil)

    var hostsFile: String { directory + "/hosts/hosts" }

    init(records: [String], hosts: String = "") throws {
        guard let binary = Self.binary else { throw RedisServerError.notInstalled }
        port = try FreePort.find()
        directory = NSTemporaryDirectory() + "argus-dns-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/hosts", withIntermediateDirectories: true)
        try hosts.write(toFile: directory + "/hosts/hosts", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = [
            "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--pid-file=", "--local-ttl=1", "--hostsdir=\(directory)/hosts", "--log-facility=\(directory)/log",
        ] + (getuid() == 0 ? ["--user=root"] : []) + records
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process.withLockedValue { $0 = p }
        Thread.sleep(forTimeInterval: 0.3)
    }

    /// Rewrites the hosts file (dnsmasq notices the change itself).
    func setHosts(_ text: String) throws {
        try text.write(toFile: hostsFile, atomically: true, encoding: .utf8)
    }

    /// SIGKILL, without `Process.waitUntilExit()` (see `RedisServer.kill()`).
    func stop() {
        process.withLockedValue { p in
            if let pid = p?.processIdentifier { kill(pid, SIGKILL) }
            p = nil
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
