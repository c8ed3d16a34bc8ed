import ArgusHTTP
import NIOCore

/// One stored response: the upstream's head as received (served through the same writer as a
/// live response, so hop-by-hop headers are dropped and plugins' headers added per request) and
/// its body, de-chunked.
public final class CachedResponse: Sendable {
    public let key: String
    public let head: ResponseHead
    public let body: ByteBuffer
    /// When it was stored and for how long it is fresh (seconds).
    public let storedAt: Double
    public let ttl: Double
    /// When the store may drop it (`storage_ttl`, else the freshness).
    public let expiresAt: Double
    /// The response to a HEAD request (no body; the upstream's Content-Length is kept).
    public let isHEAD: Bool
    /// What it costs in the memory budget.
    public let size: Int

    /// `head` is copied into storage of its own (the one received shares the upstream's read
    /// buffer, which the entry must not keep alive).
    public init(key: String, head: ResponseHead, body: ByteBuffer, storedAt: Double, ttl: Double, storageTTL: Double, isHEAD: Bool) {
        self.key = key
        var copy = ByteBuffer(bytes: head.bytes.readableBytesView)
        var parser = ResponseHeadParser()
        if case .head(let compact) = parser.parse(&copy, requestWasHEAD: isHEAD) {
            self.head = compact
        } else {
            self.head = head
        }
        self.body = body
        self.storedAt = storedAt
        self.ttl = ttl
        self.expiresAt = storedAt + storageTTL
        self.isHEAD = isHEAD
        self.size = head.bytes.readableBytes + body.readableBytes + key.utf8.count + 256
    }

    /// Seconds since it was stored (the `Age` header).
    public func age(now: Double) -> Int { max(0, Int(now - storedAt)) }
}
