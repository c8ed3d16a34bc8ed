import ArgusConfig
import Foundation
import NIOCore
import Testing

@testable import ArgusLogging

#if canImport(Glibc)
import Glibc
#endif

@Suite("http-log's own HTTP/1.1 sender")
struct BatchPosterTests {
    @Test("http:// URLs become targets; https and userinfo do not")
    func targets() throws {
        let plain = try #require(BatchPoster.Target(url: "http://logs.example:8080/in?x=1"))
        #expect(plain.host == "logs.example" && plain.port == 8080 && plain.authority == "logs.example:8080" && plain.target == "/in?x=1")
        let bare = try #require(BatchPoster.Target(url: "HTTP://127.0.0.1"))
        #expect(bare.host == "127.0.0.1" && bare.port == 80 && bare.target == "/")
        let query = try #require(BatchPoster.Target(url: "http://h?q=1#frag"))
        #expect(query.target == "/?q=1")
        let v6 = try #require(BatchPoster.Target(url: "http://[::1]:9000/p"))
        #expect(v6.host == "::1" && v6.port == 9000 && v6.authority == "[::1]:9000")
        #expect(BatchPoster.Target(url: "https://h/") == nil)
        #expect(BatchPoster.Target(url: "http://u:p@h/") == nil)
        #expect(BatchPoster.Target(url: "http://h:0/") == nil)
        #expect(BatchPoster.Target(url: "http://h:x/") == nil)
        #expect(BatchPoster.Target(url: "http:///p") == nil)
    }

    @Test("the head carries Kong's headers; the instance's own cannot replace them or break a line")
    func head() throws {
        let endpoint = HTTPLogEndpoint(.object([
            "http_endpoint": .string("http://user:pw@h:81/logs"), "method": .string("PUT"),
            "headers": .object([
                "X-Tenant": .string("a"), "content-type": .string("text/plain"), "Authorization": .string("Bearer x"),
                "X-Bad": .string("v\r\nInjected: 1"),
            ]),
        ]))
        let target = try #require(BatchPoster.Target(url: endpoint.url))
        let head = String(buffer: HTTPLogSink.head(endpoint, target, bodyLength: 42, gzipped: true))
        #expect(head == "PUT /logs HTTP/1.1\r\nHost: h:81\r\nContent-Type: application/json\r\nContent-Length: 42\r\n"
            + "Authorization: Basic dXNlcjpwdw==\r\nContent-Encoding: gzip\r\nX-Tenant: a\r\n\r\n")
    }

    @Test("answers framed by length, chunks or close; kept-alive connections reused; a stale one replaced once")
    func exchanges() throws {
        let server = try TinyServer(answers: [
            .reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            .reply("HTTP/1.1 204 No Content\r\n\r\n"),
            .reply("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            .replyAndClose("HTTP/1.1 200 OK\r\n\r\nuntil close"),
            .reply("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            .closeWithoutAnswer,
            .reply("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"),
        ])
        let poster = BatchPoster(target: try #require(BatchPoster.Target(url: "http://127.0.0.1:\(server.port)/in")))
        func post(_ body: String) throws -> Int {
            let head = ByteBuffer(string: "POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
            return try poster.exchange(head: head, body: ByteBuffer(string: body), timeout: .seconds(5), connectTimeout: .seconds(2), keepalive: .seconds(60))
        }
        #expect(try post("one") == 200)
        #expect(try post("two") == 204)
        #expect(try post("three") == 201)
        #expect(poster.connects == 1)
        #expect(try post("four") == 200)  // answered until close: the next request connects again
        #expect(!poster.isConnected)
        #expect(try post("five") == 200)
        #expect(poster.connects == 2)
        // the server drops the kept-alive connection without answering: replaced once, transparently
        #expect(try post("six") == 503)
        #expect(poster.connects == 3)
        #expect(server.bodies() == ["one", "two", "three", "four", "five", "six", "six"])
    }

    @Test("no answer within the timeout fails the batch")
    func timeout() throws {
        let server = try TinyServer(answers: [.silence])
        let poster = BatchPoster(target: try #require(BatchPoster.Target(url: "http://127.0.0.1:\(server.port)/")))
        let started = ContinuousClock.now
        #expect(throws: BatchPoster.Failure.self) {
            try poster.exchange(head: ByteBuffer(string: "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n"), body: ByteBuffer(string: "x"),
                                timeout: .milliseconds(300), connectTimeout: .seconds(1), keepalive: .seconds(60))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("a refused connection fails at once")
    func refused() throws {
        let refusing = try TinyServer(answers: [])  // bound, not listening: connects are refused
        let poster = BatchPoster(target: try #require(BatchPoster.Target(url: "http://127.0.0.1:\(refusing.port)/")))
        #expect(throws: BatchPoster.Failure.self) {
            try poster.exchange(head: ByteBuffer(string: "POST / HTTP/1.1\r\n\r\n"), body: ByteBuffer(), timeout: .seconds(2),
                                connectTimeout: .seconds(1), keepalive: .seconds(60))
        }
    }
}

/// A one-connection-at-a-time HTTP server on 127.0.0.1 that reads each request (by its
/// Content-Length) and gives the next scripted answer.
private final class TinyServer: @unchecked Sendable {
    enum Answer { case reply(String), replyAndClose(String), closeWithoutAnswer, silence }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received: [String] = []
    /// The scripted answers (empty: the port is only held).
    private let listeningFor: [Answer]

    init(answers: [Answer]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        listeningFor = answers
        // No answers: the port stays bound without listening (held until deinit, so no other
        // test's listener takes it), and connects to it are refused.
        if answers.isEmpty { return }
        listen(fd, 8)
        Thread { [self] in serve(fd, answers) }.start()
    }

    deinit {
        if listeningFor.isEmpty { close(listener) }
    }

    func bodies() -> [String] { lock.withLock { received } }

    private func serve(_ listener: Int32, _ answers: [Answer]) {
        var connection = accept(listener, nil, nil)
        for answer in answers {
            guard let body = readRequest(connection) else { return }
            lock.withLock { received.append(body) }
            switch answer {
            case .reply(let text):
                _ = text.withCString { send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            case .replyAndClose(let text):
                _ = text.withCString { send(connection, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(connection)
                connection = accept(listener, nil, nil)
            case .closeWithoutAnswer:
                close(connection)
                connection = accept(listener, nil, nil)
            case .silence:
                Thread.sleep(forTimeInterval: 2)
            }
        }
        close(connection)
        close(listener)
    }

    private func readRequest(_ fd: Int32) -> String? {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = data.indices.dropLast(3).first(where: { data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }) {
                let head = String(decoding: data[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                if data.count >= end + 4 + length { return String(decoding: data[(end + 4)..<(end + 4 + length)], as: UTF8.self) }
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            data.append(contentsOf: chunk[..<n])
        }
    }
}
