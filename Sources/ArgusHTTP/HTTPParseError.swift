/// Why a head or body could not be parsed. Each case maps to the status a client gets
/// (requests) or to a 502 (responses from an upstream).
public enum HTTPParseError: Error, Sendable, Equatable {
    case badRequestLine
    case badHeaderLine
    case whitespaceBeforeColon
    case obsFold
    case bareLineEnding
    case invalidFieldValue
    case missingHost
    case duplicateHost
    case invalidHost
    case invalidContentLength
    case duplicateContentLength
    case contentLengthWithTransferEncoding
    case unsupportedTransferEncoding
    case transferEncodingInHTTP10
    case badChunk
    case unsupportedVersion
    case uriTooLong
    case headersTooLarge
    case unsupportedExpectation
    case badStatusLine

    /// The status Kong/nginx answers with for this request error.
    public var status: Int {
        switch self {
        case .uriTooLong: return 414
        case .headersTooLarge: return 431
        case .unsupportedTransferEncoding: return 501
        case .unsupportedVersion: return 505
        case .unsupportedExpectation: return 417
        default: return 400
        }
    }

    /// A short description for logs and the error body.
    public var reason: String {
        switch self {
        case .badRequestLine: return "Bad request line"
        case .badHeaderLine: return "Bad header line"
        case .whitespaceBeforeColon: return "Whitespace between header name and colon"
        case .obsFold: return "Obsolete line folding"
        case .bareLineEnding: return "Bare CR or LF"
        case .invalidFieldValue: return "Invalid character in header value"
        case .missingHost: return "Missing Host header"
        case .duplicateHost: return "Duplicate Host header"
        case .invalidHost: return "Invalid Host header"
        case .invalidContentLength: return "Invalid Content-Length"
        case .duplicateContentLength: return "Duplicate Content-Length"
        case .contentLengthWithTransferEncoding: return "Content-Length with Transfer-Encoding"
        case .unsupportedTransferEncoding: return "Unsupported Transfer-Encoding"
        case .transferEncodingInHTTP10: return "Transfer-Encoding in HTTP/1.0"
        case .badChunk: return "Bad chunked encoding"
        case .unsupportedVersion: return "HTTP Version Not Supported"
        case .uriTooLong: return "Request-URI Too Large"
        case .headersTooLarge: return "Request Header Fields Too Large"
        case .unsupportedExpectation: return "Expectation Failed"
        case .badStatusLine: return "Bad status line"
        }
    }
}
