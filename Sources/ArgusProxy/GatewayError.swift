import ArgusSnapshot
import ArgusEvents
import NIOCore

/// A response Argus makes itself rather than proxying, with Kong's status and message (kong-compat §4.3).
public struct GatewayError: Sendable, Equatable {
    public var status: Int
    public var message: String
    /// nginx's error_page answers (502, 504) default to text/plain when the client sent no Accept;
    /// `kong.response.error` answers default to JSON.
    public var plainByDefault: Bool
    /// Extra response headers, e.g. `Connection: Upgrade` for 426.
    public var headers: [(String, String)] = []
    /// No body at all (redirects, as Kong's `kong.response.exit(status)` without a body).
    public var emptyBody = false
    /// A JSON body sent as it is, whatever the client accepts (Kong's `kong.response.exit` with a
    /// table: no request id); nil for Kong's negotiated error bodies.
    public var exitBody: String?
    /// The content type of `exitBody` when it is not JSON (request-termination's `body`).
    public var exitContentType: String?
    /// Header lines (`Name: value\r\n`) a plugin set, written as they are.
    public var headerLines: ByteBuffer?
    /// The decision when the status alone does not tell it (a plugin's rejection).
    public var decisionOverride: RequestDecision?
    /// The `grpc-status` of the answer to a gRPC request, when not the one its status maps to.
    public var grpcStatus: Int?

    /// The gateway's decision, as recorded in the request's event.
    public var decision: RequestDecision {
        if let decisionOverride { return decisionOverride }
        switch (status, message) {
        case (404, GatewayError.noRoute.message): return .noRoute
        case (503, GatewayError.noService.message): return .noService
        case (503, _): return .upstreamUnavailable
        case (502, _): return .badUpstreamResponse
        case (504, _): return .upstreamTimeout
        case (400..<500, _) where status != 426: return .badRequest
        default: return .none
        }
    }

    public static func == (lhs: GatewayError, rhs: GatewayError) -> Bool {
        lhs.status == rhs.status && lhs.message == rhs.message
    }

    public static let noRoute = GatewayError(status: 404, message: "no Route matched with those values", plainByDefault: false)
    public static let noService = GatewayError(status: 503, message: "no Service found with those values", plainByDefault: false)
    public static let noPeer = GatewayError(
        status: 503, message: "failure to get a peer from the ring-balancer", plainByDefault: false)
    public static let badGateway = GatewayError(
        status: 502, message: "An invalid response was received from the upstream server", plainByDefault: true)
    public static let gatewayTimeout = GatewayError(
        status: 504, message: "The upstream server is timing out", plainByDefault: true)
    public static let nameResolutionFailed = GatewayError(status: 503, message: "name resolution failed", plainByDefault: false)
    public static let internalError = GatewayError(status: 500, message: "An unexpected error occurred", plainByDefault: false)
    public static let useHTTPS = GatewayError(
        status: 426, message: "Please use HTTPS protocol", plainByDefault: false,
        headers: [("Connection", "Upgrade"), ("Upgrade", "TLS/1.2, HTTP/1.1")])
    /// nginx refuses TRACE before any phase runs; Kong's error handler words it.
    /// Kong's answers on gRPC routes: a request that is not gRPC, gRPC over HTTP/1.1, and gRPC
    /// over plain HTTP to a `grpcs`-only route.
    public static let nonGRPCRequest = GatewayError(status: 415, message: "Non-gRPC request matched gRPC route", plainByDefault: false)
    public static let useHTTP2 = GatewayError(
        status: 426, message: "Please use HTTP2 protocol", plainByDefault: false,
        headers: [("connection", "Upgrade"), ("upgrade", "HTTP/2")])
    public static let grpcOverPlainToGRPCS = GatewayError(
        status: 200, message: "gRPC request matched gRPCs route", plainByDefault: false, emptyBody: true,
        decisionOverride: .badRequest, grpcStatus: 1)
    public static let traceNotAllowed = GatewayError(status: 405, message: "Method not allowed", plainByDefault: true)
    public static let payloadTooLarge = GatewayError(
        status: 413, message: "Request Entity Too Large", plainByDefault: true)

    /// Kong's answer to an https-only route hit over http with `https_redirect_status_code` 301/302/307/308.
    public static func httpsRedirect(status: Int, location: String) -> GatewayError {
        GatewayError(status: status, message: "", plainByDefault: false, headers: [("Location", location)], emptyBody: true)
    }

    public static func badRequest(_ reason: String, status: Int = 400) -> GatewayError {
        GatewayError(status: status, message: reason, plainByDefault: false)
    }
}

/// Reason phrases for the statuses Argus writes itself.
enum ReasonPhrase {
    static func of(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Payload Too Large"
        case 414: return "URI Too Long"
        case 417: return "Expectation Failed"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Unknown"
        }
    }
}
