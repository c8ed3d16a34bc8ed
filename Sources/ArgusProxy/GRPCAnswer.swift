import ArgusHTTP

/// A gateway answer to a gRPC request (an HTTP/2 request whose content type is
/// `application/grpc…`) is a gRPC error: a "trailers-only" response with `grpc-status` and
/// `grpc-message`, its status mapped from the HTTP status Kong would have answered with
/// (`kong/pdk/response.lua`'s table), on HTTP status 200 as the gRPC protocol wants it.
enum GRPCAnswer {
    /// Kong's `HTTP_TO_GRPC_STATUS`, with its fallbacks by status class.
    static func status(forHTTP status: Int) -> Int {
        switch status {
        case 200: return 0
        case 400: return 3
        case 401: return 16
        case 403: return 7
        case 404: return 5
        case 409: return 6
        case 429: return 8
        case 499: return 1
        case 500: return 13
        case 501: return 12
        case 503: return 14
        case 504: return 4
        case 500...599: return 13
        case 400...499: return 3
        case 200...299: return 0
        default: return 2
        }
    }

    /// Kong's `GRPC_MESSAGES`: the message of an answer that has none of its own.
    static func name(ofStatus code: Int) -> String {
        let names = [
            "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
            "Internal", "Unavailable", "DataLoss", "Unauthenticated",
        ]
        return names.indices.contains(code) ? names[code] : "Unknown"
    }

    /// `grpc-status` and `grpc-message` for `error`, or nil when the answer is not a gRPC one
    /// (a body with a content type of its own, as request-termination's `body`). As in Kong,
    /// `kong.response.error` answers (the JSON-by-default ones) carry the status's name, while
    /// nginx's error pages (502, 504…) and `kong.response.exit` bodies carry their message.
    static func fields(for error: GatewayError) -> (status: Int, message: String)? {
        if error.exitContentType != nil { return nil }
        let code = error.grpcStatus ?? status(forHTTP: error.status)
        let ownMessage = error.grpcStatus != nil || error.plainByDefault || error.exitBody != nil
        let message = ownMessage && !error.message.isEmpty ? error.message : name(ofStatus: code)
        return (code, percentEncoded(message))
    }

    /// gRPC's `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
    static func percentEncoded(_ message: String) -> String {
        var out = ""
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension RequestHead {
    /// Kong's `is_grpc_request` without the HTTP version: the content type starts with `application/grpc`.
    var isGRPC: Bool {
        guard let type = firstValue(of: .contentType) else { return false }
        return type.utf8.starts(with: "application/grpc".utf8)
    }
}
