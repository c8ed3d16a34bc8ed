import ArgusCache
import ArgusAccess
import ArgusEvents
import ArgusHealth
import ArgusHTTP
import NIOCore

/// One request from head to last response byte: what was asked, where it goes, and how far it got.
final class Exchange {
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
    /// Where the current try connects: the target, with the exchange's TLS.
    var connectionKey: PoolKey {
        guard let tls else { return target }
        var key = target
        key.tls = tls
        return key
    }
    /// The picked target's health, when passive health checks judge the tries (nil: off).
    var targetHealth: TargetHealth?
    /// The balancer's index of the picked target (-1: none); least-connections counts it in
    /// flight until the try ends.
    var pickIndex = -1
    /// consistent-hashing's key, for a retry.
    var hashKey: String?
    /// response-transformer's instance for this request, if one applies.
    var responseTransformer: ResponseTransformerPlan?

    // Request side.
    var requestFraming: BodyFraming
    var chunkedDecoder = ChunkedDecoder()
    var requestComplete = false
    /// Some body bytes were taken from the client: the request can no longer be replayed.
    var bodyConsumed = false
    /// request-size-limiting's limit on a chunked body, counted as it streams.
    var bodyLimit: Int?
    var bodyForwarded = 0

    // Upstream side.
    var upstream: UpstreamConnection?
    var tries = 0
    var headSentAt: NIODeadline?
    /// Last progress with the upstream that Argus recorded itself (head sent, request complete);
    /// the upstream connection's `lastReadAt` counts too.
    var lastUpstreamActivity: NIODeadline
    var writeBlockedSince: NIODeadline?

    // Response side.
    var responseStarted = false
    var responseFraming: ClientResponseWriter.Framing = .none
    var status = 0

    /// Header lines plugins add to the client response (rate-limiting's `X-RateLimit-*`).
    var pluginHeaders: ByteBuffer?
    /// The request body read whole in the access phase (and maybe transformed): sent instead of
    /// streaming from the client, with its own Content-Length; every try sends it again.
    var bufferedBody: ByteBuffer?
    /// response-transformer's JSON operations: the response head held back and the body read
    /// whole, written transformed at the end.
    var heldResponse: (head: ResponseHead, body: ByteBuffer)?
    /// proxy-cache: the request's cache state, and the response being collected for the store.
    var cache: CacheState?
    var cacheCollect: (head: ResponseHead, body: ByteBuffer, ttl: Double, storageTTL: Double)?

    /// A log plugin applies: every try is recorded for the request's details.
    var recordsDetail = false
    var tryLog: [RequestDetail.Try] = []

    init(
        head: RequestHead, requestID: RequestID, received: NIODeadline, plan: ServicePlan, upstreamHead: ByteBuffer,
        target: PoolKey
    ) {
        self.head = head
        self.requestID = requestID
        self.received = received
        self.plan = plan
        self.upstreamHead = upstreamHead
        self.target = target
        self.requestFraming = head.framing
        self.lastUpstreamActivity = received
        if case .none = head.framing { requestComplete = true }
    }

    /// The try in flight ends with the exchange (least-connections' count).
    deinit {
        plan.balancer?.finished(pickIndex)
    }

    /// nginx's rule (`proxy_next_upstream` without `non_idempotent`): POST, LOCK and PATCH are never
    /// sent twice; other methods may be retried if the body was not consumed.
    var isReplayable: Bool {
        if bodyConsumed { return false }
        return head.bytes.withUnsafeReadableBytes { raw in
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
}

@available(*, unavailable)
extension Exchange: Sendable {}

/// What proxy-cache decided in the access phase for a request that goes upstream.
struct CacheState {
    let plan: ProxyCachePlan
    let key: String
    var status: ProxyCachePlan.Status
    /// This request fetches the key for every request waiting on it (ends when released).
    var fetch: CacheFetch?
}
