import Foundation
import NIOConcurrencyHelpers

/// A real `redis-server` (Debian's package) on a free loopback port, in a temp directory, stopped
/// by PID. Tests that need one are enabled when the binary exists, or always when
/// `ARGUS_REQUIRE_REDIS=1` (the test script sets it after installing the package, so a missing
/// server fails instead of skipping).
final class RedisServer: Sendable {
    static let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { binary != nil || ProcessInfo.processInfo.environment["ARGUS_REQUIRE_REDIS"] == "1" }

    let port: Int
    let password: String?
    /// TLS only (no plain port), with a self-signed certificate for `localhost` made by openssl.
    let tls: Bool
    let directory: String
    private let process = NIOLockedValueBox<Process?>(nil)

    init(password: String? = nil, tls: Bool = false) throws {
        port = try FreePort.find()
        self.password = password
        self.tls = tls
        directory = NSTemporaryDirectory() + "argus-redis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if tls {
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem",
                                 "-out", directory + "/cert.pem", "-days", "1", "-subj", "/CN=localhost",
                                 "-addext", "subjectAltName=DNS:localhost"]
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
        }
        try start()
    }

    /// Starts the server (again) on the same port, and waits until it accepts connections.
    func start() throws {
        guard let binary = Self.binary else { throw RedisServerError.notInstalled }
        var arguments = ["--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", "no", "--enable-debug-command", "local",
                         "--logfile", directory + "/redis.log"]
        if let password { arguments += ["--requirepass", password] }
        if tls {
            arguments[1] = "0"
            arguments += ["--tls-port", String(port), "--tls-cert-file", directory + "/cert.pem", "--tls-key-file", directory + "/key.pem",
                          "--tls-ca-cert-file", directory + "/cert.pem", "--tls-auth-clients", "no"]
        }
        // A loaded machine (the ThreadSanitizer stage runs every test at once on two cores) can make
        // the server slow to start, or its port briefly unavailable after a kill: wait longer, and
        // start it again when it exited without listening.
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = arguments
            try p.run()
            process.withLockedValue { $0 = p }
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if FreePort.accepts(port) { return }
                if !p.isRunning { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            if p.isRunning { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw RedisServerError.didNotStart
    }

    /// Kills the server (SIGKILL: as abrupt as a crash) and waits until its port is closed.
    /// Not `Process.waitUntilExit()`: Foundation learns of the exit on a dispatch thread, and
    /// tests blocking every one of the two cooperative threads in it would wait for each other.
    func kill() {
        guard let p = process.withLockedValue({ $0.take() }) else { return }
        Foundation.kill(p.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while FreePort.accepts(port), Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    func stop() {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

enum RedisServerError: Error {
    case notInstalled
    case didNotStart
}

enum FreePort {
    /// A port the kernel just handed out on 127.0.0.1 (bound, then closed).
    static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw RedisServerError.didNotStart }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } } == 0
    }
}
