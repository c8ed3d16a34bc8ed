import ArgusAuth
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import ArgusSnapshot
import ArgusTraffic
import ArgusTransport
import NIOCore
import Testing

@testable import ArgusProxy

func responseHead(_ raw: String) throws -> ResponseHead {
    var parser = ResponseHeadParser()
    var bytes = ByteBuffer(string: raw)
    guard case .head(let head) = parser.parse(&bytes, requestWasHEAD: false) else { throw AccessPipelineTests.TestFailure.notAHead }
    return head
}

/// The response's way back to the client, without sockets.
@Suite struct ResponseRelayTests {
    func relay() -> ResponseRelay { ResponseRelay(maxHeldBody: 16, maxCachedBody: 1 << 20) }

    @Test func aSmallBodyGoesOutWithItsHeadInOneWrite() throws {
        var relay = relay()
        let head = try responseHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        #expect(relay.chooseFraming(head, clientMinorVersion: 1, bodyLength: nil) == .passthrough)
        relay.setPendingHead(ByteBuffer(string: "HEAD|"))
        var writes: [String] = []
        let written = relay.writeBody(ByteBuffer(string: "hello")) { writes.append(String(buffer: $0)) }
        #expect(writes == ["HEAD|hello"] && written == 10)
        #expect(relay.pendingHead == nil && relay.writtenHead.map { String(buffer: $0) } == "HEAD|hello")
    }

    @Test func aChunkedOrCloseDelimitedBodyIsReChunkedForAnHTTP11Client() throws {
        var relay = relay()
        let head = try responseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(relay.chooseFraming(head, clientMinorVersion: 1, bodyLength: nil) == .chunked)
        var writes: [String] = []
        _ = relay.writeBody(ByteBuffer(string: "abc")) { writes.append(String(buffer: $0)) }
        relay.writeEnd { writes.append(String(buffer: $0)) }
        #expect(writes.joined() == "3\r\nabc\r\n0\r\n\r\n")
        // an HTTP/1.0 client gets the body until the connection closes
        var old = self.relay()
        #expect(old.chooseFraming(head, clientMinorVersion: 0, bodyLength: nil) == .untilClose)
    }

    @Test func aHeldBodyTooLargeToTransformIsReleasedAsItCame() throws {
        var relay = relay()
        let plan = ResponseTransformerPlan(config: try #require(try ConfigLoader.parseValue(text: "{add: {json: [\"a:1\"]}}")))
        let head = try responseHead("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n")
        #expect(relay.holdsHead(head, transformer: plan, requestIsHEAD: false) == true)
        guard case .held = relay.upstreamBody(ByteBuffer(string: "{\"x\":"), cacheFetch: nil) else { Issue.record("not held"); return }
        guard case .release(_, let body) = relay.upstreamBody(ByteBuffer(string: "\"0123456789abcdef\"}"), cacheFetch: nil) else {
            Issue.record("not released past the limit")
            return
        }
        #expect(String(buffer: body) == "{\"x\":\"0123456789abcdef\"}" && !relay.isHoldingBody)
        // a HEAD request's response is never held
        var other = self.relay()
        #expect(other.holdsHead(head, transformer: plan, requestIsHEAD: true) == false)
    }

    @Test func aDroppedHeadLeavesNothingPending() {
        var relay = relay()
        relay.setPendingHead(ByteBuffer(string: "HEAD"))
        #expect(relay.dropPendingHead() == true)
        #expect(relay.dropPendingHead() == false)
        var writes = 0
        #expect(relay.writePendingHead { _ in writes += 1 } == 0 && writes == 0)
    }
}

/// Where a request goes and what is sent there, without sockets.
@Suite struct UpstreamRequestPlannerTests {
    static let yaml = """
        _format_version: "3.0"
        services:
          - name: direct
            url: http://10.0.0.5:8080/base
            routes: [{name: direct, paths: ["/direct"]}]
          - name: balanced
            host: pool
            routes: [{name: balanced, paths: ["/balanced"]}]
          - name: empty
            host: nobody
            routes: [{name: empty, paths: ["/empty"]}]
          - name: keyed
            url: https://api.example.test
            routes:
              - name: keyed
                paths: ["/keyed"]
                plugins: [{name: key-auth, config: {hide_credentials: true}}]
        upstreams:
          - name: pool
            targets: [{target: "10.0.0.1:81"}, {target: "10.0.0.2:82"}]
          - name: nobody
        consumers:
          - username: kim
            keyauth_credentials: [{key: k1}]
        """

    let snapshot: ConfigSnapshot
    let planner = UpstreamRequestPlanner(connection: .init(listenerPort: 8000, viaToken: "argus/test"))
    let client = ClientFacts(ip: "192.0.2.7")

    init() throws {
        snapshot = ConfigSnapshot(config: try ConfigLoader.parse(text: Self.yaml, file: "kong.yml"))
    }

    func plan(_ raw: String) throws -> (UpstreamExchange?, GatewayError?) {
        var parser = RequestHeadParser(maxRequestLineLength: 8192, maxHeadLength: 32768)
        var bytes = ByteBuffer(string: raw)
        guard case .head(let head) = parser.parse(&bytes) else { throw AccessPipelineTests.TestFailure.notAHead }
        var trace = RequestTrace()
        var answer: GatewayError?
        let routed = try #require(RouteStep.route(
            head, requestID: RequestID(high: 1, low: 2), received: .now(), snapshot: snapshot, listenerPort: 8000,
            maxRequestBodySize: 0, trace: &trace, answer: &answer))
        var access = AccessPipeline()
        var env = TestAccessEnvironment()
        guard case .next = access.run(routed, client: client, trace: &trace, env: &env) else {
            throw AccessPipelineTests.TestFailure.notRouted
        }
        var exchange: UpstreamExchange?
        let error = planner.plan(routed, client: client, access: &access, scratch: nil, into: &exchange)
        return (exchange, error)
    }

    @Test func aDirectServiceGetsItsHostPathAndForwardedHeaders() throws {
        let (planned, error) = try plan("GET /direct/x?q=1 HTTP/1.1\r\nHost: client.test\r\n\r\n")
        let exchange = try #require(planned)
        #expect(error == nil && exchange.target == PoolKey(host: "10.0.0.5", port: 8080) && exchange.tls == nil)
        let head = String(buffer: exchange.upstreamHead)
        #expect(head.hasPrefix("GET /base/x?q=1 HTTP/1.1\r\n"))
        #expect(head.contains("Host: 10.0.0.5:8080\r\n") && head.contains("X-Forwarded-For: 192.0.2.7\r\n"))
        #expect(head.contains("X-Forwarded-Host: client.test\r\n") && head.contains("Via: 1.1 argus/test\r\n"))
    }

    /// WebSocket: `Upgrade` goes upstream with `Connection: upgrade` (the one hop-by-hop header
    /// passed on); without `upgrade` among the Connection tokens, or with a body, it does not.
    @Test func anUpgradeRequestKeepsItsUpgrade() throws {
        let (planned, _) = try plan(
            "GET /direct/ws HTTP/1.1\r\nHost: c.test\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n")
        let exchange = try #require(planned)
        let head = String(buffer: exchange.upstreamHead)
        #expect(exchange.upgrade)
        #expect(head.contains("\r\nUpgrade: websocket\r\n") && head.hasSuffix("\r\nConnection: upgrade\r\n\r\n"))
        #expect(head.contains("Sec-WebSocket-Key: k\r\n"))
        for raw in [
            "GET /direct/ws HTTP/1.1\r\nHost: c.test\r\nUpgrade: websocket\r\n\r\n",
            "POST /direct/ws HTTP/1.1\r\nHost: c.test\r\nUpgrade: h2c\r\nConnection: upgrade\r\nContent-Length: 1\r\n\r\nx",
        ] {
            let (plain, _) = try plan(raw)
            let other = try #require(plain)
            #expect(!other.upgrade && !String(buffer: other.upstreamHead).contains("Upgrade:"))
        }
    }

    @Test func aBalancedServiceTakesItsTargetsInTurnAndARetryTheNext() throws {
        let (first, _) = try plan("GET /balanced HTTP/1.1\r\nHost: x\r\n\r\n")
        var exchange = try #require(first)
        #expect(String(buffer: exchange.upstreamHead).contains("Host: \(exchange.target.host):\(exchange.target.port)\r\n"))
        let before = exchange.target
        // a retry takes the balancer's next target, and the Host follows it
        let retargeted = UpstreamRequestPlanner.retarget(&exchange)
        #expect(retargeted && exchange.target != before)
        #expect(Set([before.host, exchange.target.host]) == ["10.0.0.1", "10.0.0.2"])
        #expect(String(buffer: exchange.upstreamHead).contains("Host: \(exchange.target.host):\(exchange.target.port)\r\n"))
        exchange.releasePick()
    }

    @Test func anUpstreamWithoutTargetsIs503() throws {
        let (exchange, error) = try plan("GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(exchange == nil && error == .noPeer)
    }

    @Test func theConsumerGoesUpstreamAndTheCredentialDoesNot() throws {
        let (planned, _) = try plan("GET /keyed HTTP/1.1\r\nHost: x\r\napikey: k1\r\nX-Consumer-Username: forged\r\n\r\n")
        let exchange = try #require(planned)
        let head = String(buffer: exchange.upstreamHead)
        #expect(head.contains("X-Consumer-Username: kim\r\n") && !head.contains("forged") && !head.contains("apikey"))
        #expect(exchange.tls?.serverName == "api.example.test" && exchange.target.port == 443)
    }
}
