import ArgusConfig
import ArgusEvents
import ArgusHTTP
import ArgusRouting
import ArgusSnapshot
import ArgusTransport
import NIOCore

/// The first decision about a parsed request: which route and service it is for under the
/// current snapshot, or the gateway's answer when there is none (Kong's 404 and 503, its 426 or
/// redirect for an https-only route reached over http, 413 past `client_max_body_size`). Pure.
enum RouteStep {
    /// The routed request, or nil and the gateway's `answer` (returned apart, not in an enum with
    /// the request: taking a request out of an enum's payload copies it).
    static func route(
        _ head: RequestHead, requestID: RequestID, received: NIODeadline, snapshot: ConfigSnapshot, listenerPort: Int,
        tls: TLSSessionFacts? = nil, trustedPeer: Bool = false, http2: Bool = false, maxRequestBodySize: Int, trace: inout RequestTrace,
        answer: inout GatewayError?
    ) -> RoutedRequest? {
        guard let path = PathNormalizer.normalize(head.string(head.path)[...]) else { return Self.refuse(.badRequest("Bad request"), &answer) }
        if head.method.count == 5, head.methodString == "TRACE" { return Self.refuse(.traceNotAllowed, &answer) }
        let request = RouterRequest(
            method: head.methodString, host: head.hostString, port: head.hostPort ?? listenerPort, path: path,
            // over TLS without a name, a route's `snis` can not match (Kong's `tls.sni` is empty); over plain HTTP they are ignored
            sni: tls.map { $0.serverName ?? "" })
        guard let match = snapshot.router.match(request, headers: head) else { return Self.refuse(.noRoute, &answer) }
        trace.route = Int32(truncatingIfNeeded: match.routeIndex)
        let routePlan = snapshot.routes[match.routeIndex]
        trace.recordsDetail = routePlan.recordsDetail
        guard let serviceIndex = match.serviceIndex else { return Self.refuse(.noService, &answer) }
        trace.service = Int32(truncatingIfNeeded: serviceIndex)
        // Kong's forwarded_proto: the connection's scheme, or a trusted peer's X-Forwarded-Proto.
        if !routePlan.allowsHTTP, !Self.forwardedHTTPS(head, tls: tls, trustedPeer: trustedPeer) {
            if routePlan.httpsRedirectStatus == 426 || head.host.isEmpty { return Self.refuse(.useHTTPS, &answer) }
            let location = "https://" + head.hostString + head.string(head.path.lowerBound..<head.query.upperBound)
            return Self.refuse(.httpsRedirect(status: routePlan.httpsRedirectStatus, location: location), &answer)
        }
        if routePlan.isGRPC {
            // Kong's checks of a gRPC route's requests: gRPC's content type, over HTTP/2, and TLS for `grpcs` alone
            guard head.isGRPC else { return Self.refuse(.nonGRPCRequest, &answer) }
            guard http2 else { return Self.refuse(.useHTTP2, &answer) }
            if routePlan.grpcsOnly, !Self.forwardedHTTPS(head, tls: tls, trustedPeer: trustedPeer) {
                return Self.refuse(.grpcOverPlainToGRPCS, &answer)
            }
        }
        if maxRequestBodySize > 0, case .length(let n) = head.framing, n > maxRequestBodySize { return Self.refuse(.payloadTooLarge, &answer) }
        return RoutedRequest(
            head: head, requestID: requestID, received: received, match: match, routePlan: routePlan,
            plan: snapshot.services[serviceIndex], serviceID: snapshot.config.services[serviceIndex].id, path: path,
            snapshot: snapshot)
    }

    static func forwardedHTTPS(_ head: RequestHead, tls: TLSSessionFacts?, trustedPeer: Bool) -> Bool {
        if trustedPeer, let proto = head.values(forLowercasedName: "x-forwarded-proto").first { return proto == "https" }
        return tls != nil
    }

    private static func refuse(_ error: GatewayError, _ answer: inout GatewayError?) -> RoutedRequest? {
        answer = error
        return nil
    }
}

extension RequestHead: RouterHeaders {}
