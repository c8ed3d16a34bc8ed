@testable import ArgusProxy
import ArgusConfig
import ArgusHTTP
import ArgusSnapshot
import ArgusTransport
import NIOCore
import Testing

/// Gateway answers to gRPC requests (Kong's `kong/pdk/response.lua`), and Kong's checks of the
/// requests that reach gRPC routes (`kong/runloop/handler.lua`).
@Suite struct GRPCAnswerTests {
    @Test func httpStatusesMapAsKongMapsThem() {
        let pairs = [(200, 0), (400, 3), (401, 16), (403, 7), (404, 5), (409, 6), (429, 8), (499, 1), (500, 13), (501, 12),
                     (502, 13), (503, 14), (504, 4), (413, 3), (204, 0), (301, 2), (426, 3)]
        for (http, grpc) in pairs { #expect(GRPCAnswer.status(forHTTP: http) == grpc, "\(http)") }
    }

    @Test func kongResponseErrorsCarryTheStatusNameAndErrorPagesTheirMessage() throws {
        // kong.response.error (key-auth, rate-limiting, no route): the name of the gRPC status
        #expect(GRPCAnswer.fields(for: GatewayError(status: 401, message: "No API key found in request", plainByDefault: false))!
            == (16, "Unauthenticated"))
        #expect(GRPCAnswer.fields(for: .noRoute)! == (5, "NotFound"))
        // nginx's error pages through Kong's error handler: their message
        #expect(GRPCAnswer.fields(for: .badGateway)! == (13, "An invalid response was received from the upstream server"))
        #expect(GRPCAnswer.fields(for: .grpcOverPlainToGRPCS)! == (1, "gRPC request matched gRPCs route"))
        // a body with a content type of its own is not a gRPC answer
        var termination = GatewayError(status: 503, message: "", plainByDefault: false, exitBody: "down")
        termination.exitContentType = "text/plain"
        #expect(GRPCAnswer.fields(for: termination) == nil)
        #expect(GRPCAnswer.percentEncoded("50% off: café") == "50%25 off: caf%C3%A9")
    }

    @Test func aGRPCAnswerIsATrailersOnlyResponseOnStatus200() {
        var out = ByteBuffer()
        GatewayResponseWriter.write(
            GatewayError(status: 429, message: "API rate limit exceeded", plainByDefault: false), requestID: "r1", accept: nil,
            isHEAD: false, keepAlive: true, date: "D", serverToken: "argus", latencyMs: 0, grpc: true, into: &out)
        let text = String(buffer: out)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.contains("Content-Type: application/grpc\r\ngrpc-status: 8\r\ngrpc-message: ResourceExhausted\r\nContent-Length: 0\r\n"))
        #expect(text.hasSuffix("X-Kong-Request-Id: r1\r\n\r\n"))
    }

    static let yaml = """
        _format_version: "3.0"
        services:
          - name: g
            url: grpc://10.0.0.9:50051
            routes:
              - { name: both, protocols: [grpc, grpcs], paths: [/pkg.A/] }
              - { name: tls, protocols: [grpcs], paths: [/pkg.B/] }
        """

    func route(_ raw: String, http2: Bool, tls: Bool = false) throws -> (RoutedRequest?, GatewayError?) {
        let snapshot = ConfigSnapshot(config: try ConfigLoader.parse(text: Self.yaml, file: "kong.yml"))
        var parser = RequestHeadParser()
        var bytes = ByteBuffer(string: raw)
        guard case .head(let head) = parser.parse(&bytes) else { throw AccessPipelineTests.TestFailure.notAHead }
        var trace = RequestTrace()
        var answer: GatewayError?
        let facts = tls ? TLSSessionFacts(serverName: nil, version: "TLSv1.3", cipher: "x", alpn: "h2", certificateID: "c") : nil
        let routed = RouteStep.route(
            head, requestID: RequestID(high: 1, low: 2), received: .now(), snapshot: snapshot, listenerPort: 8000, tls: facts,
            http2: http2, maxRequestBodySize: 0, trace: &trace, answer: &answer)
        return (routed, answer)
    }

    @Test func kongsChecksOfRequestsToGRPCRoutes() throws {
        let grpc = "POST /pkg.A/Call HTTP/1.1\r\nHost: h\r\ncontent-type: application/grpc+proto\r\n\r\n"
        #expect(try route(grpc, http2: true).0 != nil)
        #expect(try route(grpc, http2: false).1 == .useHTTP2)
        #expect(try route("POST /pkg.A/Call HTTP/1.1\r\nHost: h\r\ncontent-type: application/json\r\n\r\n", http2: true).1 == .nonGRPCRequest)
        let tlsOnly = "POST /pkg.B/Call HTTP/1.1\r\nHost: h\r\ncontent-type: application/grpc\r\n\r\n"
        #expect(try route(tlsOnly, http2: true).1 == .grpcOverPlainToGRPCS)
        #expect(try route(tlsOnly, http2: true, tls: true).0 != nil)
    }
}
