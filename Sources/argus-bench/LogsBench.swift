import ArgusConfig
import ArgusEvents
import ArgusLogging
import Foundation

/// The log record: ns to decode a request's details and build Kong's JSON record from them (what
/// the log exporter does once per logged request, off the event loops).
enum LogsBench {
    static func run() {
        print("log record (release build)")
        let yaml = """
            _format_version: "3.0"
            consumers: [{username: alice}]
            services:
              - name: backend
                url: http://127.0.0.1:9001
                routes: [{name: all, paths: ["/"]}]
            """
        guard let config = try? ConfigLoader.parse(text: yaml, file: "bench.yml") else { return }
        let entities = EntityCache(config)
        let request = Array((
            "GET /orders/42?expand=items&page=2 HTTP/1.1\r\nHost: api.example.com:8000\r\nUser-Agent: curl/8.5.0\r\n"
            + "Accept: application/json\r\nAccept-Encoding: gzip, deflate\r\nAuthorization: Bearer abc.def.ghi\r\n"
            + "X-Forwarded-For: 10.0.0.1\r\nX-Request-Source: mobile\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: keep-alive\r\n\r\n").utf8)
        let response = Array((
            "HTTP/1.1 200 OK\r\nServer: uvicorn\r\nDate: Sun, 22 Nov 2026 11:15:18 GMT\r\nContent-Type: application/json\r\n"
            + "Content-Length: 1234\r\nVia: 1.1 argus/0.1.0\r\nX-Kong-Upstream-Latency: 4\r\nX-Kong-Proxy-Latency: 0\r\n"
            + "X-Kong-Request-Id: 631b975193247401b18f0775fd82e854\r\n\r\n").utf8)
        let target = Array("/orders/42?expand=items&page=2".utf8)
        var encoded: [UInt8] = []
        request.withUnsafeBytes { r in
            target.withUnsafeBytes { t in
                response.withUnsafeBytes { s in
                    RequestDetail.encode(
                        requestHead: r, upstreamTarget: t, responseHead: s,
                        tries: [.init(host: "127.0.0.1", port: 9001, code: 200, startedAt: 1_200_000)], serverPort: 8000,
                        into: &encoded)
                }
            }
        }
        var event = RequestEvent()
        event.route = 0; event.service = 0; event.consumer = 0; event.status = 200; event.source = .upstream
        event.receivedAt = 1_000_000; event.upstreamSentAt = 1_300_000; event.upstreamFirstByteAt = 4_000_000
        event.completedAt = 4_100_000; event.requestBytes = 412; event.responseBytes = 1_500
        event.requestIDHigh = 0x631b_9751_9324_7401; event.requestIDLow = 0xb18f_0775_fd82_e854
        let serializer = LogSerializer()
        let scratch = LogScratch()
        var size = 0
        let clock = ContinuousClock()
        var samples: [Double] = []
        let n = 200_000
        for _ in 0..<7 {
            let d = clock.measure {
                for _ in 0..<n {
                    size &+= encoded.withUnsafeBytes {
                        serializer.serialize(event, encodedDetail: $0, entities: entities, scratch: scratch) { record, _ in record.count }
                    }
                }
            }
            samples.append((Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(n))
        }
        samples.sort()
        let record = serializer.serialize(event, detail: RequestDetail.decode(encoded), entities: entities)
        print("| measure | result |")
        print("|---|---:|")
        print("| read the details + serialize one record (\(record.count) bytes), median of 7 runs of \(n) | \(String(format: "%.0f", samples[3])) ns |")
        print("| range over the 7 runs | \(String(format: "%.0f", samples[0]))–\(String(format: "%.0f", samples[6])) ns |")
        if size == 0 { print("") }
    }
}
