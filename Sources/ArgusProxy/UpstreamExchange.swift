import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusEvents
import ArgusHealth
import ArgusHTTP
import ArgusSnapshot
import ArgusTransport
import NIOCore

/// What a request sends upstream and what it carries for the response: built once the access
/// phase lets it through (`UpstreamRequestPlanner`), changed by retries (another target), and
/// read by the response relay. Its progress (tries, what was sent) is the `RequestStateMachine`'s.
struct UpstreamExchange {
    let head: RequestHead
    let requestID: RequestID
    let received: NIODeadline
    let plan: ServicePlan
    /// The request head as it goes upstream, kept for a retry.
    var upstreamHead: ByteBuffer
    /// How `upstreamHead` was written, kept when its Host follows the picked target (a balanced
    /// service without `preserve_host` or `host_header`): a retry to another target writes it again.
    var headWriting: UpstreamRequestWriter.Context?
    var target: PoolKey
    /// TLS towards the upstream (an `https` service), the same for every try.
    var tls: UpstreamTLS?
    /// The picked target's health, when passive health checks judge the tries (nil: off).
    var targetHealth: TargetHealth?
    /// The balancer's index of the picked target (-1: none); least-connections counts it in
    /// flight until the try ends (``releasePick()``).
    var pickIndex = -1
    /// consistent-hashing's key, for a retry.
    var hashKey: String?
    /// response-transformer's instance for this request, if one applies.
    var responseTransformer: ResponseTransformerPlan?
    /// request-size-limiting's limit on a chunked body, counted as it streams.
    var bodyLimit: Int?
    /// The request body read whole in the access phase (and maybe transformed): sent instead of
    /// streaming from the client, with its own Content-Length; every try sends it again.
    var bufferedBody: ByteBuffer?
    /// Header lines plugins add to the client response (rate-limiting's `X-RateLimit-*`).
    var pluginHeaders: ByteBuffer?
    /// Upstream response headers cors owns (its Access-Control-Allow-Origin…).
    var corsOwned: [String]?
    /// The request asks for a protocol upgrade: a 101 makes the exchange a tunnel.
    var upgrade = false
    /// proxy-cache: the request's cache state, and the response being collected for the store.
    var cache: CacheState?
    /// A log plugin applies: every try is recorded for the request's details.
    var recordsDetail = false
    var tryLog: [RequestDetail.Try] = []

    /// Where the current try connects: the target, with the exchange's TLS, over HTTP/2 for a
    /// `grpc`/`grpcs` service.
    var connectionKey: PoolKey {
        guard tls != nil || plan.usesHTTP2 else { return target }
        var key = target
        key.tls = tls
        key.http2 = plan.usesHTTP2
        return key
    }

    init(head: RequestHead, requestID: RequestID, received: NIODeadline, plan: ServicePlan, upstreamHead: ByteBuffer, target: PoolKey) {
        self.head = head
        self.requestID = requestID
        self.received = received
        self.plan = plan
        self.upstreamHead = upstreamHead
        self.target = target
    }

    /// The try in flight is over: least-connections stops counting it. Called once per pick,
    /// however the try ends (a response, a failure, a retry, the client going away).
    mutating func releasePick() {
        guard pickIndex >= 0 else { return }
        plan.balancer?.finished(pickIndex)
        pickIndex = -1
    }

    /// nginx's rule (`proxy_next_upstream` without `non_idempotent`): POST, LOCK and PATCH are never
    /// sent twice; other methods may be retried if the body was not consumed.
    static func methodIsReplayable(_ head: RequestHead) -> Bool {
        head.bytes.withUnsafeReadableBytes { raw in
            let m = head.method
            switch m.count {
            case 4:
                return !(raw[m.lowerBound] == UInt8(ascii: "P") && raw[m.lowerBound + 1] == UInt8(ascii: "O"))
                    && !(raw[m.lowerBound] == UInt8(ascii: "L") && raw[m.lowerBound + 1] == UInt8(ascii: "O"))
            case 5:
                return !(raw[m.lowerBound] == UInt8(ascii: "P") && raw[m.lowerBound + 1] == UInt8(ascii: "A"))
            default:
                return true
            }
        }
    }

    /// Marks the last try as failed (for the request's details).
    mutating func recordFailedTry(timedOut: Bool) {
        guard recordsDetail, !tryLog.isEmpty else { return }
        tryLog[tryLog.count - 1].failed = true
        tryLog[tryLog.count - 1].code = timedOut ? 504 : 502
    }

    /// Records the status of the last try, unless it failed.
    mutating func recordTryStatus(_ status: Int) {
        guard recordsDetail, !tryLog.isEmpty, !tryLog[tryLog.count - 1].failed else { return }
        tryLog[tryLog.count - 1].code = UInt16(clamping: status)
    }
}

@available(*, unavailable)
extension UpstreamExchange: Sendable {}
