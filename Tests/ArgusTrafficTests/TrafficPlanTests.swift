import ArgusConfig
import ArgusHTTP
import ArgusPluginKit
import NIOCore
import Testing

@testable import ArgusTraffic

func head(_ raw: String) throws -> RequestHead {
    var parser = RequestHeadParser(maxRequestLineLength: 8192, maxHeadLength: 32768)
    var bytes = ByteBuffer(string: raw)
    guard case .head(let head) = parser.parse(&bytes) else { throw ParseFailure() }
    return head
}

struct ParseFailure: Error {}

func config(_ text: String) throws -> JSONValue {
    try #require(try ConfigLoader.parseValue(text: text))
}

@Suite struct RequestSizeLimitPlanTests {
    @Test func aDeclaredBodyOverTheLimitIsRefusedBeforeAnythingIsRead() throws {
        let plan = RequestSizeLimitPlan(config: try config("{allowed_payload_size: 10, size_unit: bytes}"))
        #expect(plan.allowedBytes == 10)
        #expect(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")) == nil)
        let refused = try #require(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")))
        #expect(refused.status == 413 && refused.message == "Request size limit exceeded")
        // a client waiting for 100 Continue is told 417, as Kong does
        let expecting = try #require(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")))
        #expect(expecting.status == 417)
        // a chunked body is counted as it streams
        #expect(plan.check(try head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")) == nil)
    }

    @Test func unitsAndRequiredLength() throws {
        #expect(RequestSizeLimitPlan(config: try config("{allowed_payload_size: 2, size_unit: kilobytes}")).allowedBytes == 2048)
        #expect(RequestSizeLimitPlan(config: try config("{}")).allowedBytes == 128 << 20)
        let strict = RequestSizeLimitPlan(config: try config("{require_content_length: true}"))
        #expect(strict.check(try head("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))?.status == 411)
        #expect(strict.check(try head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n")) == nil)
    }
}

@Suite struct CorrelationIDTests {
    @Test func uuidCounterIsOneWorkerUUIDAndACounter() throws {
        var generator = CorrelationIDGenerator()
        let plan = CorrelationIDPlan(config: try config("{}"))
        #expect(plan.headerName == "Kong-Request-ID" && plan.generator == .uuidCounter && !plan.echoDownstream)
        let first = generator.next(.uuidCounter, serverAddress: "", serverPort: 0, connection: 0, connectionRequests: 0, nowMs: 0)
        let second = generator.next(.uuidCounter, serverAddress: "", serverPort: 0, connection: 0, connectionRequests: 0, nowMs: 0)
        #expect(first.hasSuffix("#1") && second.hasSuffix("#2"))
        #expect(first.dropLast(2) == second.dropLast(2) && first.count == 36 + 2)
    }

    @Test func trackerCarriesTheConnectionsFigures() {
        var generator = CorrelationIDGenerator()
        let id = generator.next(.tracker, serverAddress: "10.0.0.1", serverPort: 8000, connection: 7, connectionRequests: 3, nowMs: 1_700_000_000_005)
        #expect(id.hasPrefix("10.0.0.1-8000-") && id.hasSuffix("-7-3-1700000000.005"))
    }

    @Test func anIncomingIDIsKept() throws {
        let plan = CorrelationIDPlan(config: try config("{header_name: X-Trace}"))
        #expect(plan.existing(try head("GET / HTTP/1.1\r\nHost: x\r\nX-Trace: abc\r\n\r\n")) == "abc")
        #expect(plan.existing(try head("GET / HTTP/1.1\r\nHost: x\r\nX-Trace:\r\n\r\n")) == nil)
    }
}

@Suite struct CORSPlanTests {
    @Test func aPreflightIsAnOPTIONSWithOriginAndRequestedMethod() throws {
        let plan = CORSPlan(config: try config("{origins: [\"https://app.example\"], methods: [GET, PUT], max_age: 60}"))
        let preflight = try head("OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n")
        #expect(plan.isPreflight(preflight))
        #expect(!plan.isPreflight(try head("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n")))
        let headers = Dictionary(plan.preflightHeaders(preflight), uniquingKeysWith: { a, _ in a })
        #expect(headers["Access-Control-Allow-Origin"] == "https://app.example")
        #expect(headers["Access-Control-Allow-Methods"] == "GET,PUT" && headers["Access-Control-Max-Age"] == "60")
    }

    @Test func anOriginNotAllowedGetsNoAllowOrigin() throws {
        let plan = CORSPlan(config: try config("{origins: [\"https://app.example\", \"https://admin.example\"]}"))
        let other = plan.responseHeaders(try head("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n"))
        #expect(!other.contains { $0.0 == "Access-Control-Allow-Origin" })
        let allowed = plan.responseHeaders(try head("GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://admin.example\r\n\r\n"))
        #expect(allowed.contains { $0.0 == "Access-Control-Allow-Origin" && $0.1 == "https://admin.example" })
    }
}
