import ArgusCompression
import AsyncHTTPClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#endif

extension HTTPLogSink {
    /// Sends one batch and waits for the answer (on the sender's thread): true for a 2xx. `poster`
    /// is the sender thread's connection to an `http://` endpoint, remade when the endpoint changes.
    func send(_ records: [Record], over poster: inout BatchPoster?) -> Bool {
        let endpoint = self.endpoint
        var body = endpoint.framing.body(records.map(\.bytes), single: endpoint.maxBatchSize == 1)
        var gzipped = false
        if endpoint.gzip, let compressed = Gzip.compress(Array(body.readableBytesView)) {
            body = ByteBuffer(bytes: compressed)
            gzipped = true
        }
        guard let target = BatchPoster.Target(url: endpoint.url) else {
            return sendTLS(body, gzipped: gzipped, endpoint)
        }
        if poster?.target != target {
            poster?.disconnect()
            poster = BatchPoster(target: target)
        }
        guard let poster else { return false }
        let head = Self.head(endpoint, target, bodyLength: body.readableBytes, gzipped: gzipped)
        let connectsBefore = poster.connects
        let outcome: Result<Int, BatchPoster.Failure>
        do throws(BatchPoster.Failure) {
            outcome = .success(try poster.exchange(
                head: head, body: body, timeout: endpoint.timeout, connectTimeout: min(endpoint.timeout, .seconds(5)),
                keepalive: endpoint.keepalive))
        } catch {
            outcome = .failure(error)
        }
        let opened = poster.connects - connectsBefore
        if opened > 0 { state.withLockedValue { $0.counters.connects += opened } }
        switch outcome {
        case .success(let status):
            if !(200..<300).contains(status) {
                logger.debug("\(endpoint.sinkName): the endpoint refused a batch", metadata: ["endpoint": "\(endpoint.display)", "status": "\(status)"])
            }
            return (200..<300).contains(status)
        case .failure(let error):
            logger.debug("\(endpoint.sinkName): send failed", metadata: ["endpoint": "\(endpoint.display)", "error": "\(error)"])
            return false
        }
    }

    /// The request head: Kong's http-log headers (`Content-Type`, `Content-Length`, the URL's
    /// userinfo as `Authorization`, then the instance's own headers, which cannot replace those).
    static func head(_ endpoint: HTTPLogEndpoint, _ target: BatchPoster.Target, bodyLength: Int, gzipped: Bool) -> ByteBuffer {
        var head = ByteBufferAllocator().buffer(capacity: 256)
        head.writeString("\(endpoint.method) \(target.target) HTTP/1.1\r\nHost: \(target.authority)\r\n")
        head.writeString("Content-Type: \(endpoint.contentType)\r\nContent-Length: \(bodyLength)\r\n")
        if let authorization = endpoint.authorization { head.writeString("Authorization: \(authorization)\r\n") }
        if gzipped { head.writeString("Content-Encoding: gzip\r\n") }
        let reserved: Set<String> = ["host", "content-length", "content-type", "transfer-encoding", "connection", "content-encoding"]
        for (name, value) in endpoint.headers {
            let lowered = name.lowercased()
            if reserved.contains(lowered) || (lowered == "authorization" && endpoint.authorization != nil) { continue }
            // A name or value that would break the head out of its line is not sent.
            if name.utf8.contains(where: { $0 <= 32 || $0 == UInt8(ascii: ":") || $0 >= 127 })
                || value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) { continue }
            head.writeString("\(name): \(value)\r\n")
        }
        head.writeString("\r\n")
        return head
    }

    /// An `https://` endpoint: async-http-client (TLS, the log server's certificate not verified,
    /// as Kong), waited on from the sender's thread.
    private func sendTLS(_ body: ByteBuffer, gzipped: Bool, _ endpoint: HTTPLogEndpoint) -> Bool {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: endpoint.contentType)
        if let authorization = endpoint.authorization { headers.add(name: "Authorization", value: authorization) }
        for (name, value) in endpoint.headers { headers.add(name: name, value: value) }
        if gzipped { headers.add(name: "Content-Encoding", value: "gzip") }
        do {
            let request = try HTTPClient.Request(
                url: endpoint.url, method: HTTPMethod(rawValue: endpoint.method), headers: headers, body: .byteBuffer(body))
            let timeout = TimeAmount.nanoseconds(Int64(BatchPoster.nanoseconds(endpoint.timeout)))
            let response = try client.execute(request: request, deadline: .now() + timeout).wait()
            return (200..<300).contains(response.status.code)
        } catch {
            logger.debug("\(endpoint.sinkName): send failed", metadata: ["endpoint": "\(endpoint.display)", "error": "\(error)"])
            return false
        }
    }
}
