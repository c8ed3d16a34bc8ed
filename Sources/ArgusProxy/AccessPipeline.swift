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
import ArgusSnapshot
import NIOCore

/// What the access phase needs from around it: the clock, this loop's generators, and the
/// stores it counts and caches in. The connection provides it on the request path; tests provide
/// their own. Generic parameters, not existentials: every call is dispatched statically.
protocol AccessEnvironment {
    /// Milliseconds since the Unix epoch (rate-limiting windows, cache ages, jwt expiry).
    func wallClockMilliseconds() -> Int64
    /// correlation-id's next value from this loop's generator.
    mutating func generateCorrelationID(_ generator: CorrelationIDPlan.Generator) -> String
    /// Counts the request in this node's `local` counters.
    func countLocally(_ limiter: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage
    /// Counts the request against the last synced totals (`sync_rate`).
    func countSynced(_ limiter: RateLimitPlan, identifier: String, nowMs: Int64) -> RateLimitUsage
    /// What responses spent of a `response-ratelimiting` instance's windows in this node's counters.
    func responseLimitsSpent(_ plan: ResponseRateLimitPlan, identifier: String, nowMs: Int64) -> [Int64]
    /// proxy-cache's store.
    var cache: ProxyCacheStore { get }
    /// On a miss: true when this request fetches `key`; false when another request does, in
    /// which case this one is woken (its access phase resumes) once that fetch ends.
    func beginCacheFetch(_ key: String) -> Bool
    /// A rate-limit store did not answer (logged at most once a second per loop).
    mutating func rateLimitStoreFailed(_ error: any Error, faultTolerant: Bool)
    /// An empty buffer for response header lines (the connection recycles the previous request's).
    mutating func responseLinesBuffer() -> ByteBuffer
}

/// What one access step decided, and what the whole phase decided (`.next` past the last step:
/// the request goes upstream).
enum AccessDecision {
    case next
    /// A plugin needs the whole request body: read it, then run again (the same step runs again).
    case needBody
    /// Waiting for something outside the loop; `resume` when it answers.
    case suspend(AccessSuspension)
    /// The gateway answers (a refusal, a CORS preflight, a 429, a cache's 504).
    case answer(GatewayError)
    /// A fresh proxy-cache entry answers.
    case serve(CacheHit)
}

enum AccessSuspension {
    /// A rate-limiting check in Redis.
    case rateLimit(RateLimitPlan, identifier: String, nowMs: Int64, endpoint: RedisEndpoint)
    /// A response-ratelimiting reading of Redis.
    case responseLimits(ResponseRateLimitPlan, identifier: String, nowMs: Int64, endpoint: RedisEndpoint)
    /// Another request is fetching the same proxy-cache key: run again when it ends.
    case cacheFetch
}

/// A proxy-cache hit to serve.
struct CacheHit {
    let entry: CachedResponse
    let plan: ProxyCachePlan
    let plugin: Int16
    let now: Double
    /// The request has a `Kong-Debug` header: the cache's headers go out whatever the config says.
    let debug: Bool
}

/// The access phase: the route's plugins in Kong's order (correlation-id, cors, size limits,
/// authentication, ip-restriction, acl, rate limiting, transformers, proxy-cache), each of which
/// may identify the consumer, refuse the request, need its body, or wait for a store. A value
/// type driven by the connection; it records what it learned in `state` and in the request's trace.
struct AccessPipeline {
    var state = AccessState()

    /// Runs the steps from `state.next` on.
    mutating func run<Env: AccessEnvironment>(
        _ routed: RoutedRequest, client: ClientFacts, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let steps = routed.routePlan.access
        let catalog = routed.snapshot.access
        while state.next < steps.count {
            let step = steps[state.next]
            state.next += 1
            guard let instance = catalog.instance(step, consumer: state.consumer) else { continue }
            let decision = self.step(instance, routed, client: client, trace: &trace, env: &env)
            if case .next = decision { continue }
            if case .needBody = decision { state.next -= 1 }
            if case .suspend(.cacheFetch) = decision { state.next -= 1 }
            return decision
        }
        return .next
    }

    private mutating func step<Env: AccessEnvironment>(
        _ instance: AccessInstance, _ routed: RoutedRequest, client: ClientFacts, trace: inout RequestTrace, env: inout Env
    ) -> AccessDecision {
        let head = routed.head
        let directory = routed.snapshot.access.directory
        switch instance {
        case .correlationID(let plan, _):
            var id = plan.existing(head)
            if id == nil {
                let generated = env.generateCorrelationID(plan.generator)
                state.correlationLine = "\(plan.headerName): \(generated)\r\n"
                id = generated
            }
            state.correlationID = id
            if plan.echoDownstream {
                if state.responseHeaders == nil { state.responseHeaders = env.responseLinesBuffer() }
                AccessState.writeLine(plan.headerName, id!, into: &state.responseHeaders!)
            }
        case .cors(let plan, let plugin):
            if plan.isPreflight(head) {
                if plan.preflightContinue { return .next }
                // Kong answers the preflight itself: 200, no body, the CORS headers.
                trace.plugin = plugin
                var answer = GatewayError(status: 200, message: "", plainByDefault: false, headers: plan.preflightHeaders(head))
                answer.emptyBody = true
                answer.headerLines = state.responseHeaders.take()
                answer.decisionOverride = .pluginResponse
                return .answer(answer)
            }
            if state.responseHeaders == nil { state.responseHeaders = env.responseLinesBuffer() }
            if plan.writeResponseHeaders(head, into: &state.responseHeaders!) { state.corsOwned = plan.ownedResponseHeaders }
        case .requestSizeLimit(let plan, let plugin):
            if let rejection = plan.check(head) { return refuse(rejection, plugin: plugin, trace: &trace, decision: .badRequest) }
            if case .chunked = head.framing { state.bodyLimit = plan.allowedBytes }
        case .jwt(let plan, let plugin):
            let outcome = plan.authenticate(
                head, directory: directory, alreadyAuthenticated: state.credentialID != nil,
                nowSeconds: Double(env.wallClockMilliseconds()) / 1000)
            return authenticated(outcome, plugin: plugin, trace: &trace)
        case .keyAuth(let plan, let plugin):
            if plan.needsBody(head) {
                guard state.bodyRead else { return .needBody }
                if state.parsedBody == nil, let body = state.body,
                   let kind = RequestBody.kind(contentType: head.values(forLowercasedName: "content-type").first) {
                    state.parsedBody = RequestBody.parse(body, kind: kind)
                }
            }
            let outcome = plan.authenticate(
                head, directory: directory, alreadyAuthenticated: state.credentialID != nil, edits: &state.edits,
                body: state.parsedBody)
            return authenticated(outcome, plugin: plugin, trace: &trace)
        case .basicAuth(let plan, let plugin):
            let outcome = plan.authenticate(
                head, directory: directory, alreadyAuthenticated: state.credentialID != nil, edits: &state.edits)
            return authenticated(outcome, plugin: plugin, trace: &trace)
        case .ipRestriction(let plan, let plugin):
            let address = client.forwarded(head)
            if let rejection = plan.check(address: address.bytes, text: address.text) {
                return refuse(rejection, plugin: plugin, trace: &trace)
            }
        case .acl(let plan, let plugin):
            state.aclRan = true
            switch plan.check(consumer: state.consumer, directory: directory, hasCredential: state.credentialID != nil) {
            case .allowed(let sendGroups): state.sendGroups = sendGroups
            case .rejected(let rejection): return refuse(rejection, plugin: plugin, trace: &trace)
            }
        case .requestTransformer(let plan):
            var formArguments: [(name: String, value: String)]?
            if plan.needsBody(head) {
                guard state.bodyRead else { return .needBody }
                formArguments = plan.formArgumentsForMethod(head, body: state.body)
                if let body = state.body, let transformed = plan.transformBody(body, head: head, captures: routed.match.captures) {
                    state.body = ByteBuffer(bytes: transformed)
                    state.parsedBody = nil
                }
            }
            state.rewrite = plan.rewrite(head, captures: routed.match.captures, formArguments: formArguments)
        case .responseTransformer(let plan):
            // Applied to the upstream's response head (Kong's header_filter).
            state.responseTransformer = plan
        case .rateLimit(let limiter):
            return checkRateLimit(limiter, routed, client: client, trace: &trace, env: &env)
        case .responseRateLimit(let plan):
            return readResponseLimits(plan, routed, client: client, trace: &trace, env: &env)
        case .proxyCache(let plan, let plugin):
            return lookUpCache(plan, plugin: plugin, routed, trace: &trace, env: &env)
        case .requestTermination(let plan, let plugin):
            guard plan.applies(to: head) else { return .next }
            trace.plugin = plugin
            var answer = GatewayError(status: plan.status, message: plan.message ?? "", plainByDefault: false)
            if plan.echo {
                let config = routed.snapshot.config
                answer.exitBody = plan.echoBody(
                    head, scheme: client.secure ? "https" : "http", port: head.hostPort ?? client.listenerPort,
                    captures: routed.match.captures, route: EntityJSON.route(config.routes[routed.match.routeIndex]),
                    service: config.services.first { $0.id == routed.serviceID }.map(EntityJSON.service) ?? .null)
            } else if let body = plan.body {
                answer.exitBody = body
                answer.exitContentType = plan.contentType
            } else if let message = plan.message {
                answer.exitBody = JSONText.encode(.object(["message": .string(message)]))
            } else {
                answer.emptyBody = true
            }
            answer.headerLines = state.responseHeaders.take()
            answer.decisionOverride = .pluginResponse
            return .answer(answer)
        }
        return .next
    }

    /// Applies an authentication plugin's outcome.
    private mutating func authenticated(_ outcome: AuthOutcome, plugin: Int16, trace: inout RequestTrace) -> AccessDecision {
        switch outcome {
        case .skipped:
            return .next
        case .authenticated(let identity):
            state.consumer = identity.consumer
            state.credentialID = identity.credentialID
            state.credentialLine = identity.identifierLine
            state.anonymous = false
        case .anonymous(let consumer):
            state.consumer = consumer
            state.credentialID = nil
            state.credentialLine = nil
            state.anonymous = true
        case .rejected(let rejection):
            return refuse(rejection, plugin: plugin, trace: &trace)
        }
        trace.consumer = state.consumer
        return .next
    }

    /// An access plugin's rejection (Kong's `kong.response.error`). The decision is `auth_failed`
    /// for a 4xx unless given (a misconfiguration's 500 is `plugin_response`).
    private mutating func refuse(
        _ rejection: AccessRejection, plugin: Int16, trace: inout RequestTrace, decision: RequestDecision? = nil
    ) -> AccessDecision {
        trace.plugin = plugin
        trace.reason = rejection.reason
        var error = GatewayError(status: rejection.status, message: rejection.message, plainByDefault: false, headers: rejection.headers)
        error.exitBody = rejection.exitBody
        error.headerLines = state.responseHeaders.take()
        error.decisionOverride = decision ?? (rejection.status < 500 ? .authFailed : .pluginResponse)
        return .answer(error)
    }
}
