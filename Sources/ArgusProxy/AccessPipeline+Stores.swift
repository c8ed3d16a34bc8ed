import ArgusSnapshot
import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusCache
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import ArgusRateLimit
import ArgusRedis
import ArgusRouting
import Foundation
import NIOCore

/// The access steps that count or look something up in a store: rate limiting (locally, against
/// synced totals, or in Redis) and proxy-cache.
extension AccessPipeline {
    // MARK: - Rate limiting

    /// Kong's rate-limiting access handler: count the request in every configured window and
    /// admit it, or answer `error_code` with Kong's headers. A local check is synchronous; a Redis
    /// one suspends the request until its answer comes back through ``rateLimitAnswered``.
    mutating func checkRateLimit<Env: AccessEnvironment>(
        _ limiter: RateLimitPlan, _ routed: RoutedRequest, client: ClientFacts, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let head = routed.head
        let identifier = limiter.identifier(
            consumerID: state.consumerID(routed.snapshot), credentialID: state.credentialID, serviceID: routed.serviceID,
            header: { head.values(forLowercasedName: $0).first }, path: routed.path[...], clientIP: client.forwarded(head).text)
        let nowMs = env.wallClockMilliseconds()
        let settings = limiter.settings
        guard settings.policy == .redis else {
            return rateLimitDecided(limiter, .success(env.countLocally(limiter, identifier: identifier, nowMs: nowMs)), trace: &trace, env: &env)
        }
        guard let endpoint = settings.redis else {
            return rateLimitDecided(limiter, .failure(RedisError.unavailable("no redis host configured")), trace: &trace, env: &env)
        }
        if settings.syncRate != nil {
            // Counted locally against the last synced totals; the gateway's syncer talks to Redis.
            return rateLimitDecided(limiter, .success(env.countSynced(limiter, identifier: identifier, nowMs: nowMs)), trace: &trace, env: &env)
        }
        return .suspend(.rateLimit(limiter, identifier: identifier, nowMs: nowMs, endpoint: endpoint))
    }

    /// Redis answered a suspended rate-limiting check: admit (and go on with the next steps) or refuse.
    mutating func rateLimitAnswered<Env: AccessEnvironment>(
        _ limiter: RateLimitPlan, _ result: Result<RateLimitUsage, any Error>, _ routed: RoutedRequest, client: ClientFacts,
        trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let decision = rateLimitDecided(limiter, result, trace: &trace, env: &env)
        guard case .next = decision else { return decision }
        return run(routed, client: client, trace: &trace, env: &env)
    }

    private mutating func rateLimitDecided<Env: AccessEnvironment>(
        _ limiter: RateLimitPlan, _ result: Result<RateLimitUsage, any Error>, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let settings = limiter.settings
        switch result {
        case .success(let usage):
            var lines = env.responseLinesBuffer()
            usage.writeHeaders(settings, into: &lines)
            if usage.admitted {
                if lines.readableBytes > 0 {
                    if state.responseHeaders == nil {
                        state.responseHeaders = lines
                    } else {
                        state.responseHeaders!.writeImmutableBuffer(lines)
                    }
                }
                return .next
            }
            trace.plugin = Int16(clamping: limiter.pluginIndex)
            trace.reason = UInt8(truncatingIfNeeded: usage.stop?.rawValue ?? 0)
            var error = GatewayError(status: settings.errorCode, message: settings.errorMessage, plainByDefault: false)
            if var earlier = state.responseHeaders.take() {
                earlier.writeImmutableBuffer(lines)
                error.headerLines = earlier
            } else {
                error.headerLines = lines
            }
            error.decisionOverride = .rateLimited
            return .answer(error)
        case .failure(let error):
            trace.flags.insert(.rateLimitStoreError)
            trace.plugin = Int16(clamping: limiter.pluginIndex)
            env.rateLimitStoreFailed(error, faultTolerant: settings.faultTolerant)
            return settings.faultTolerant ? .next : .answer(.internalError)
        }
    }

    // MARK: - proxy-cache

    /// Serves from the cache, or waits for another request's fetch of the same key (the step
    /// runs again when it ends), or lets the request go upstream, marked to be stored when it is
    /// a Miss or a Refresh.
    mutating func lookUpCache<Env: AccessEnvironment>(
        _ plan: ProxyCachePlan, plugin: Int16, _ routed: RoutedRequest, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let control = plan.cacheControl ? CacheControl(routed.head.values(forLowercasedName: "cache-control")) : CacheControl([])
        let debug = routed.head.valueRange(forLowercasedName: Self.kongDebug).count > 0
        guard plan.isCacheable(routed.head, control) else {
            trace.flags.cacheStatus = ProxyCachePlan.Status.bypass.rawValue
            if plan.sendStatus || debug { state.addResponseHeaders([("X-Cache-Status", "Bypass")]) }
            return .next
        }
        let config = routed.snapshot.config
        let key = plan.key(routed.head, consumerID: state.consumerID(routed.snapshot), routeID: config.routes[routed.match.routeIndex].id)
        let now = Double(env.wallClockMilliseconds()) / 1000
        var status = ProxyCachePlan.Status.miss
        if let entry = env.cache.lookup(key, now: now) {
            if plan.isFresh(entry, request: control, now: now) {
                trace.plugin = plugin
                trace.flags.cacheStatus = ProxyCachePlan.Status.hit.rawValue
                return .serve(CacheHit(entry: entry, plan: plan, plugin: plugin, now: now, debug: debug))
            }
            status = .refresh
        } else if plan.cacheControl, control.has("only-if-cached") {
            // RFC 9111 §5.2.1.7: nothing stored, and the client wants nothing else.
            trace.plugin = plugin
            var answer = GatewayError(status: 504, message: "", plainByDefault: false)
            answer.emptyBody = true
            answer.decisionOverride = .pluginResponse
            return .answer(answer)
        }
        guard env.beginCacheFetch(key) else { return .suspend(.cacheFetch) }
        trace.flags.cacheStatus = status.rawValue
        state.cache = CacheState(plan: plan, key: key, status: status, debug: debug, fetch: CacheFetch(key: key, store: env.cache))
        return .next
    }

    static let kongDebug = Array("kong-debug".utf8)

    // MARK: - Balancing

    /// consistent-hashing's key: what `hash_on` names, else what `hash_fallback` names; nil when
    /// neither gives a value (the pick is then round-robin). A `cookie` that is missing is created
    /// and set on the response, so the client sticks from its next request on.
    mutating func hashKey(_ upstream: Upstream, _ routed: RoutedRequest, client: ClientFacts) -> String? {
        let head = routed.head
        func value(_ kind: String, header: String?, query: String?, capture: String?) -> String? {
            switch kind {
            case "consumer": return state.consumerID(routed.snapshot) ?? state.credentialID
            case "ip": return client.forwarded(head).text
            case "header": return header.flatMap { head.values(forLowercasedName: $0.lowercased()).joined(separator: ",").nilIfEmpty }
            case "path": return routed.path
            case "query_arg":
                return query.flatMap { QueryString(head.string(head.query)[...]).values(named: $0).joined(separator: ",").nilIfEmpty }
            case "uri_capture": return capture.flatMap { routed.match.captures[$0] }
            case "cookie":
                guard let name = upstream.hashOnCookie else { return nil }
                for header in head.values(forLowercasedName: "cookie") {
                    for pair in header.split(separator: ";") {
                        let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        if kv.count == 2, kv[0] == name, !kv[1].isEmpty { return kv[1] }
                    }
                }
                let created = UUID().uuidString.lowercased()
                state.addResponseHeaders([("Set-Cookie", "\(name)=\(created); Path=\(upstream.hashOnCookiePath); SameSite=Lax; HttpOnly")])
                return created
            default: return nil
            }
        }
        let key = value(upstream.hashOn, header: upstream.hashOnHeader, query: upstream.hashOnQueryArg, capture: upstream.hashOnURICapture)
            ?? value(upstream.hashFallback, header: upstream.hashFallbackHeader, query: upstream.hashFallbackQueryArg,
                     capture: upstream.hashFallbackURICapture)
        state.hashKey = key
        return key
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
