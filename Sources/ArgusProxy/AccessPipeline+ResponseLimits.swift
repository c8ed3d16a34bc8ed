import ArgusEvents
import ArgusRateLimit
import ArgusRedis
import NIOCore

/// response-ratelimiting's access step (Kong's `access.lua`): read what responses already spent
/// of each limit for this client, send `X-RateLimit-Remaining-<name>`, refuse under
/// `block_on_first_violation`, and keep the reading for the response head.
extension AccessPipeline {
    mutating func readResponseLimits<Env: AccessEnvironment>(
        _ plan: ResponseRateLimitPlan, _ routed: RoutedRequest, client: ClientFacts, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        guard !plan.limits.isEmpty else { return .next }
        let identifier = plan.identifier(
            consumerID: state.consumerID(routed.snapshot), credentialID: state.credentialID, clientIP: client.forwarded(routed.head).text)
        let nowMs = env.wallClockMilliseconds()
        guard plan.policy == .redis else {
            return responseLimitsRead(plan, identifier, nowMs, .success(env.responseLimitsSpent(plan, identifier: identifier, nowMs: nowMs)),
                                      trace: &trace, env: &env)
        }
        guard let endpoint = plan.redis else {
            return responseLimitsRead(plan, identifier, nowMs, .failure(RedisError.unavailable("no redis host configured")),
                                      trace: &trace, env: &env)
        }
        return .suspend(.responseLimits(plan, identifier: identifier, nowMs: nowMs, endpoint: endpoint))
    }

    /// Redis answered a suspended reading: decide, and go on with the next steps.
    mutating func responseLimitsAnswered<Env: AccessEnvironment>(
        _ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64, _ result: Result<[Int64], any Error>, _ routed: RoutedRequest,
        client: ClientFacts, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let decision = responseLimitsRead(plan, identifier, nowMs, result, trace: &trace, env: &env)
        guard case .next = decision else { return decision }
        return run(routed, client: client, trace: &trace, env: &env)
    }

    private mutating func responseLimitsRead<Env: AccessEnvironment>(
        _ plan: ResponseRateLimitPlan, _ identifier: String, _ nowMs: Int64, _ result: Result<[Int64], any Error>,
        trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        switch result {
        case .success(let spent):
            let usage = plan.usage(spent: spent)
            if let refusedBy = plan.refusal(usage) {
                trace.plugin = plan.pluginIndex
                // Kong answers before it sets this step's headers (earlier plugins' stay)
                var error = GatewayError(status: 429, message: "API rate limit exceeded for '\(refusedBy)'", plainByDefault: false)
                error.headerLines = state.responseHeaders.take()
                error.decisionOverride = .rateLimited
                return .answer(error)
            }
            if state.responseHeaders == nil { state.responseHeaders = env.responseLinesBuffer() }
            plan.writeAccessHeaders(usage, into: &state.responseHeaders!)
            state.responseLimits = ResponseLimitState(plan: plan, identifier: identifier, nowMs: nowMs, usage: usage)
            return .next
        case .failure(let error):
            // Kong: fault tolerant, the request goes on unlimited; otherwise a 500
            trace.flags.insert(.rateLimitStoreError)
            trace.plugin = plan.pluginIndex
            env.rateLimitStoreFailed(error, faultTolerant: plan.faultTolerant)
            return plan.faultTolerant ? .next : .answer(.internalError)
        }
    }
}
