import ArgusEvents
import ArgusHTTP
import ArgusRateLimit
import ArgusTransport
import NIOCore

/// response-ratelimiting's part of the upstream's response head (Kong's `header_filter.lua`).
extension ProxyConnection {
    /// A gateway answer after response-ratelimiting's access step let the request on (a later
    /// plugin's refusal, a 502/503/504): Kong's header_filter adds the `X-RateLimit-*-<period>`
    /// headers to it too, spending nothing. Its own 429 comes before the step records its usage
    /// and gets none, as in Kong.
    func withResponseLimitHeaders(_ error: GatewayError) -> GatewayError {
        guard let limits = access.state.responseLimits else { return error }
        var error = error
        var lines = error.headerLines ?? allocator.buffer(capacity: 128)
        _ = limits.plan.writeResponseHeaders(limits.usage, increments: [], into: &lines)
        error.headerLines = lines
        return error
    }

    /// Reads what the upstream says the response spent (`X-Kong-Limit: video=1`), adds the
    /// `X-RateLimit-Limit-*`/`X-RateLimit-Remaining-*` headers, and either answers 429 (without a
    /// body; the upstream's response is dropped) when a limit the response spends was already
    /// spent, or lets the response go on with its spending recorded for the ring's counter.
    /// Returns true when it answered.
    func applyResponseLimits(_ head: ResponseHead) -> Bool {
        guard let limits = access.state.responseLimits, exchange != nil else { return false }
        let plan = limits.plan
        // the first header of the name, as Kong's `kong.service.response.get_header` reads it
        let increments = plan.increments(head.values(forLowercasedName: plan.headerName).first)
        // taken out of the exchange while written: no copy of a shared buffer
        var headers = exchange!.pluginHeaders.take() ?? allocator.buffer(capacity: 256)
        let stop = plan.writeResponseHeaders(limits.usage, increments: increments, into: &headers)
        if stop {
            // nothing of the upstream's response has reached the client: its connection goes
            upstream?.abort()
            upstream = nil
            trace.plugin = plan.pluginIndex
            var error = GatewayError(status: 429, message: "", plainByDefault: false)
            error.emptyBody = true
            error.headerLines = headers
            error.decisionOverride = .rateLimited
            if !request.requestComplete { connection.closeAfterThisResponse() }
            answer(error, for: exchange!.head, requestID: exchange!.requestID, received: exchange!.received, bodyPending: false)
            return true
        }
        if headers.readableBytes > 0 { exchange!.pluginHeaders = headers }
        let spent = increments.filter { $0.value != 0 }
        if !spent.isEmpty {
            trace.responseLimits = RequestDetail.ResponseLimits(
                plugin: plan.pluginIndex, nowMs: limits.nowMs, identifier: limits.identifier,
                increments: spent.map { .init(limit: UInt8(clamping: $0.limit), value: $0.value) })
            trace.recordsDetail = true
        }
        return false
    }
}
