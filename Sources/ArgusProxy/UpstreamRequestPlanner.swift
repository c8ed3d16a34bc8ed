import ArgusAuth
import ArgusPluginKit
import ArgusTraffic
import ArgusConfig
import ArgusHealth
import ArgusHTTP
import ArgusRouting
import ArgusSnapshot
import ArgusTransport
import Foundation
import NIOCore

/// Where a request that passed the access phase goes, and what is sent there: the target (the
/// service's host, or the upstream's balancer), the `Host` header, TLS, and the request head as
/// the upstream sees it, with every plugin's edits. Also the next target of a retry. No I/O.
struct UpstreamRequestPlanner {
    /// What the connection contributes to every request it forwards.
    struct Connection {
        var listenerPort: Int
        var viaToken: String
        /// The client connection is TLS: `X-Forwarded-Proto: https`.
        var secure = false
    }

    let connection: Connection

    /// Makes the exchange for `routed` in `exchange` (built in place: a copy of the struct would
    /// retain each of its fields), or returns the gateway's answer when no target is left (Kong's
    /// 503 `failure to get a peer from the ring-balancer`). `scratch` is storage for the head.
    func plan(
        _ routed: RoutedRequest, client: ClientFacts, access: inout AccessPipeline, scratch: ByteBuffer?, into exchange: inout UpstreamExchange?
    ) -> GatewayError? {
        let head = routed.head, plan = routed.plan, routePlan = routed.routePlan, match = routed.match
        let target: PoolKey
        var targetName: String?
        var pick: UpstreamBalancer.Pick?
        if let balancer = plan.balancer {
            let key = balancer.algorithm == .consistentHashing ? access.hashKey(balancer.upstream, routed, client: client) : nil
            guard let picked = balancer.next(hashKey: key) else { return .noPeer }
            target = picked.target
            targetName = picked.name
            pick = picked
        } else {
            if plan.nameResolutionFailed { return .nameResolutionFailed }
            target = plan.nextDirectTarget()
        }
        var upstreamHead = scratch ?? ByteBufferAllocator().buffer(capacity: head.bytes.readableBytes + 512)
        upstreamHead.clear()
        let hostHeader: String
        // The Host follows the picked target (Kong's upstream_host): a retry to another target writes the head again.
        var hostFollowsTarget = false
        if let host = access.state.rewrite?.host {
            hostHeader = host
        } else if routePlan.preserveHost, head.host.count > 0 {
            // The validated authority the request was routed by (an absolute-form target wins over Host).
            hostHeader = head.hostPort.map { "\(head.hostString):\($0)" } ?? head.hostString
        } else {
            hostHeader = plan.hostHeader(for: target, name: targetName)
            hostFollowsTarget = plan.balancer != nil && plan.balancer?.upstream.hostHeader == nil
        }
        let writing = UpstreamRequestWriter.Context(
            upstreamPath: access.state.rewrite?.uri ?? match.upstreamPath, hostHeader: hostHeader, clientIP: client.ip,
            peerTrusted: client.peerTrusted, listenerPort: connection.listenerPort, strippedPrefix: match.strippedPrefix,
            requestID: routed.requestID, viaToken: connection.viaToken, secure: connection.secure, upgrade: Self.upgradeRequested(head),
            edits: routePlan.editsUpstream || access.state.bodyRead || access.state.traceLines != nil ? Self.edits(routed, access: &access.state) : nil)
        UpstreamRequestWriter.write(head, writing, into: &upstreamHead)

        exchange = UpstreamExchange(
            head: head, requestID: routed.requestID, received: routed.received, plan: plan, upstreamHead: upstreamHead, target: target)
        if hostFollowsTarget { exchange!.headWriting = writing }
        exchange!.recordsDetail = routePlan.recordsDetail
        exchange!.tls = plan.tls(hostHeader: hostHeader)
        if let pick, let balancer = plan.balancer {
            exchange!.targetHealth = balancer.health.passiveEnabled ? pick.health : nil
            exchange!.pickIndex = pick.index
        }
        exchange!.hashKey = access.state.hashKey
        exchange!.responseTransformer = access.state.responseTransformer
        exchange!.upgrade = writing.upgrade
        exchange!.pluginHeaders = access.state.responseHeaders.take()
        exchange!.corsOwned = access.state.corsOwned
        exchange!.cache = access.state.cache.take()
        if access.state.bodyRead, let body = access.state.body.take() { exchange!.bufferedBody = body }
        exchange!.bodyLimit = access.state.bodyLimit
        return nil
    }

    /// A retry goes to the balancer's next healthy target (false: none is left); Kong sets the
    /// Host for each try, so another target may mean another Host (and TLS server name).
    static func retarget(_ exchange: inout UpstreamExchange) -> Bool {
        guard let balancer = exchange.plan.balancer else {
            // a service host DNS gave several addresses for: the next one
            if exchange.plan.directTargets.count > 1 { exchange.target = exchange.plan.nextDirectTarget() }
            return true
        }
        exchange.releasePick()
        let key = balancer.algorithm == .consistentHashing ? exchange.hashKey : nil
        guard let next = balancer.next(hashKey: key) else { return false }
        exchange.target = next.target
        exchange.targetHealth = balancer.health.passiveEnabled ? next.health : nil
        exchange.pickIndex = next.index
        if var writing = exchange.headWriting {
            let host = exchange.plan.hostHeader(for: next.target, name: next.name)
            if host != writing.hostHeader {
                writing.hostHeader = host
                exchange.headWriting = writing
                exchange.upstreamHead.clear()
                UpstreamRequestWriter.write(exchange.head, writing, into: &exchange.upstreamHead)
                exchange.tls = exchange.plan.tls(hostHeader: host)
            }
        }
        return true
    }

    /// The consumer headers (Kong's `X-Consumer-*`) and what `hide_credentials` removes. Headers of
    /// those names a client sent are dropped whenever an authentication plugin runs.
    static func edits(_ routed: RoutedRequest, access: inout AccessState) -> UpstreamRequestWriter.Edits {
        typealias Edits = UpstreamRequestWriter.Edits
        var edits = Edits()
        if routed.routePlan.authenticates {
            edits.removeHeaders = access.aclRan ? Edits.consumerAndGroupHeaders : Edits.consumerHeaders
        } else if access.aclRan {
            edits.removeHeaders = ["x-consumer-groups"]
        }
        if !access.edits.headers.isEmpty { edits.removeHeaders += access.edits.headers }
        let directory = routed.snapshot.access.directory
        if access.consumer >= 0 && Int(access.consumer) < directory.consumers.count {
            edits.consumerLines = directory.consumerLines[Int(access.consumer)]
            if access.sendGroups { edits.groupsLine = directory.groupsLines[Int(access.consumer)] }
        }
        edits.credentialLine = access.credentialLine
        edits.anonymous = access.anonymous
        edits.correlationLine = access.correlationLine
        if let lines = access.traceLines {
            edits.traceLines = lines
            if edits.removeHeaders.isEmpty { edits.removeHeaders = access.traceRemove } else { edits.removeHeaders += access.traceRemove }
        }
        if let rewrite = access.rewrite {
            edits.removeHeaders += rewrite.removeHeaders
            edits.extraLines = rewrite.headerLines
            edits.method = rewrite.method
            if let query = rewrite.query { edits.query = query }
        }
        if !access.edits.query.isEmpty {
            edits.query = QueryString(routed.head.string(routed.head.query)[...]).removing(access.edits.query)
        }
        if access.bodyRead, var body = access.body {
            // key-auth's hide_credentials took the key from the body
            if !access.edits.body.isEmpty,
               let kind = RequestBody.kind(contentType: routed.head.values(forLowercasedName: "content-type").first),
               let parsed = RequestBody.parse(body, kind: kind) {
                body = ByteBuffer(bytes: parsed.removing(access.edits.body).serialized())
                access.body = body
            }
            edits.bodyLength = body.readableBytes
        }
        return edits
    }

    /// A protocol upgrade the upstream may accept (WebSocket, or any `Upgrade`): HTTP/1.1, an
    /// `Upgrade` header with `upgrade` among the `Connection` tokens, and no body.
    static func upgradeRequested(_ head: RequestHead) -> Bool {
        guard head.minorVersion == 1, case .none = head.framing, head.fields.contains(where: { $0.name == .upgrade }) else { return false }
        return head.values(forLowercasedName: "connection").contains { value in
            value.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "upgrade" }
        }
    }
}
