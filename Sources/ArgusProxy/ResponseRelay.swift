import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusHTTP
import NIOCore

/// The upstream's response on its way to the client: how its body is framed for the client
/// (passed through, re-chunked, or until close), the client head held back until the first body
/// bytes (so that a small response is one write), response-transformer's hold of a JSON body,
/// and proxy-cache's copy for the store. A value type: bytes in, bytes out through `write`.
struct ResponseRelay {
    private(set) var framing: ClientResponseWriter.Framing = .none
    /// The client's response head, not written yet.
    private(set) var pendingHead: ByteBuffer?
    /// The last head written to the client (maybe followed by body bytes): the response's head
    /// for its log record, and the storage the next head is written into.
    private(set) var writtenHead: ByteBuffer?
    /// response-transformer's JSON operations: the upstream head held back and its body read whole.
    private var held: (head: ResponseHead, body: ByteBuffer)?
    /// proxy-cache: the response being collected for the store.
    private var collected: (head: ResponseHead, body: ByteBuffer, ttl: Double, storageTTL: Double)?
    /// The upstream body's trailer section, passed on in the last chunk (gRPC's status).
    private var trailerLines: [UInt8]?
    /// Largest body held for response-transformer; a larger one goes out as it came.
    let maxHeldBody: Int
    /// Largest body kept for the cache.
    let maxCachedBody: Int

    init(maxHeldBody: Int, maxCachedBody: Int) {
        self.maxHeldBody = maxHeldBody
        self.maxCachedBody = maxCachedBody
    }

    /// Forgets the previous response.
    mutating func reset() {
        framing = .none
        pendingHead = nil
        held = nil
        collected = nil
        trailerLines = nil
    }

    /// The upstream's trailers, for the end of the client's chunked body.
    mutating func setTrailers(_ lines: [UInt8]) {
        trailerLines = lines
    }

    var isHoldingBody: Bool { held != nil }

    // MARK: - The head

    /// Whether the client's head can be written now, or waits for the whole body (response-transformer's
    /// JSON operations: `Content-Length` changes with the body).
    mutating func holdsHead(_ head: ResponseHead, transformer: ResponseTransformerPlan?, requestIsHEAD: Bool) -> Bool {
        guard let transformer, !requestIsHEAD, head.framing != .none, transformer.wantsBody(head) else { return false }
        held = (head, ByteBuffer())
        return true
    }

    /// The client's framing for `head` (`bodyLength`: the body is written whole with that length).
    mutating func chooseFraming(_ head: ResponseHead, clientMinorVersion: Int, bodyLength: Int?) -> ClientResponseWriter.Framing {
        framing = bodyLength != nil ? .passthrough : ClientResponseWriter.framing(for: head.framing, clientMinorVersion: clientMinorVersion)
        return framing
    }

    /// The client's head, written and held back until the first body bytes (or the end).
    mutating func setPendingHead(_ bytes: ByteBuffer) {
        pendingHead = bytes
    }

    /// Writes the held-back head, if any; returns the bytes written.
    mutating func writePendingHead(write: (ByteBuffer) -> Void) -> Int {
        guard let head = pendingHead.take() else { return 0 }
        writtenHead = head
        write(head)
        return head.readableBytes
    }

    /// Drops the held-back head (the client will get a gateway answer instead); true if one was pending.
    mutating func dropPendingHead() -> Bool {
        pendingHead.take() != nil
    }

    /// Storage for the next head (the last one written, once its response is over).
    mutating func takeHeadStorage() -> ByteBuffer? {
        writtenHead.take()
    }

    // MARK: - proxy-cache

    /// proxy-cache, at the response head: collect the body for the store (Miss/Refresh) when the
    /// status, content type and Cache-Control allow, else Bypass (the requests waiting on this
    /// fetch go upstream). Adds the `X-Cache-*` lines to `pluginHeaders`.
    mutating func decideCacheStorage(_ cache: inout CacheState, _ head: ResponseHead, now: Double, pluginHeaders: inout ByteBuffer?) {
        if let storage = cache.plan.storage(for: head, now: now) {
            collected = (head, ByteBuffer(), storage.ttl, storage.storageTTL)
        } else {
            cache.status = .bypass
            cache.fetch?.end()
            cache.fetch = nil
        }
        var lines = pluginHeaders ?? ByteBufferAllocator().buffer(capacity: 128)
        if cache.plan.sendStatus || cache.debug { lines.writeString("X-Cache-Status: \(cache.status.text)\r\n") }
        if cache.plan.sendKey || cache.debug { lines.writeString("X-Cache-Key: \(cache.key)\r\n") }
        pluginHeaders = lines
    }

    /// The collected response, once it is whole.
    mutating func takeCollected() -> (head: ResponseHead, body: ByteBuffer, ttl: Double, storageTTL: Double)? {
        collected.take()
    }

    // MARK: - The body

    enum BodyStep {
        /// Write these bytes to the client.
        case relay
        /// Held for response-transformer.
        case held
        /// Too large to transform: write the held head now, then `body` (what was held), as it came.
        case release(head: ResponseHead, body: ByteBuffer)
    }

    /// A slice of the upstream's body: kept for the cache, held for the transformer, or relayed.
    mutating func upstreamBody(_ slice: ByteBuffer, cacheFetch: CacheFetch?) -> BodyStep {
        if collected != nil {
            if collected!.body.readableBytes + slice.readableBytes > maxCachedBody {
                collected = nil
                cacheFetch?.end()
            } else {
                collected!.body.writeImmutableBuffer(slice)
            }
        }
        guard held != nil else { return .relay }
        held!.body.writeImmutableBuffer(slice)
        guard held!.body.readableBytes > maxHeldBody else { return .held }
        let released = held.take()!
        return .release(head: released.head, body: released.body)
    }

    /// The held response at the end of the body, if one is held.
    mutating func takeHeld() -> (head: ResponseHead, body: ByteBuffer)? {
        held.take()
    }

    /// Writes a body slice framed for the client (after the held-back head, in one buffer when
    /// both are small). Returns the bytes written.
    mutating func writeBody(_ slice: ByteBuffer, write: (ByteBuffer) -> Void) -> Int {
        var written = 0
        if var head = pendingHead.take() {
            if framing == .passthrough && slice.readableBytes <= 16384 {
                // Head and a small body in one buffer.
                head.writeImmutableBuffer(slice)
                writtenHead = head
                write(head)
                return head.readableBytes
            }
            written += head.readableBytes
            writtenHead = head
            write(head)
        }
        written += slice.readableBytes
        if framing == .chunked {
            var header = ByteBufferAllocator().buffer(capacity: 12)
            ChunkedEncoder.writeChunkHeader(slice.readableBytes, into: &header)
            write(header)
            write(slice)
            write(ByteBuffer(staticString: "\r\n"))
        } else {
            write(slice)
        }
        return written
    }

    /// The end of the body: the last chunk when re-chunked, with the upstream's trailers if any.
    mutating func writeEnd(write: (ByteBuffer) -> Void) {
        guard framing == .chunked else { return }
        guard let lines = trailerLines.take() else {
            write(ByteBuffer(staticString: ChunkedEncoder.lastChunk))
            return
        }
        var out = ByteBufferAllocator().buffer(capacity: lines.count + 5)
        out.writeStaticString("0\r\n")
        out.writeBytes(lines)
        out.writeStaticString("\r\n")
        write(out)
    }
}
