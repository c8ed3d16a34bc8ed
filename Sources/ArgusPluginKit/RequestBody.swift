import ArgusConfig
import ArgusHTTP
import NIOCore

/// A buffered request body read as Kong's `kong.request.get_body()` reads it: JSON,
/// `application/x-www-form-urlencoded` or `multipart/form-data`, by the request's Content-Type,
/// and written back after a change (request-transformer's body operations, key-auth's
/// `hide_credentials` with `key_in_body`).
public enum RequestBody: Sendable {
    case json(JSONValue)
    /// Name/value pairs in order.
    case form([(name: String, value: String)])
    case multipart(boundary: String, parts: [MultipartBody.Part])

    public enum Kind: Sendable, Equatable {
        case json, form, multipart(boundary: String)
    }

    /// The body kind a Content-Type names, or nil for anything else (left alone).
    public static func kind(contentType: String?) -> Kind? {
        guard let contentType else { return nil }
        let lower = contentType.lowercased()
        if lower.contains("application/json") { return .json }
        if lower.contains("application/x-www-form-urlencoded") { return .form }
        if lower.contains("multipart/form-data"), let boundary = MultipartBody.boundary(contentType: contentType) {
            return .multipart(boundary: boundary)
        }
        return nil
    }

    /// Parses `bytes` as `kind`; nil when it does not parse (an empty JSON body is `{}`).
    public static func parse(_ bytes: ByteBuffer, kind: Kind) -> RequestBody? {
        let raw = Array(bytes.readableBytesView)
        switch kind {
        case .json:
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .json(.object([:])) }
            guard let text = String(validating: raw, as: UTF8.self), let value = try? ConfigLoader.parseValue(text: text) else { return nil }
            return .json(value)
        case .form:
            let pairs = raw.split(separator: UInt8(ascii: "&")).map { part -> (name: String, value: String) in
                let kv = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
                return (QueryString.decode(Substring(String(decoding: kv[0], as: UTF8.self))),
                        kv.count == 2 ? QueryString.decode(Substring(String(decoding: kv[1], as: UTF8.self))) : "")
            }
            return .form(pairs)
        case .multipart(let boundary):
            return MultipartBody.parse(raw, boundary: boundary).map { .multipart(boundary: boundary, parts: $0) }
        }
    }

    /// The first value of the field `name` as text (key-auth's `key_in_body`), and how many there are.
    public func field(_ name: String) -> (value: String?, count: Int) {
        switch self {
        case .json(let value):
            guard let field = value[name] else { return (nil, 0) }
            switch field {
            case .string(let s): return (s, 1)
            case .int(let i): return (String(i), 1)
            case .array(let items): return (items.first?.stringValue, items.count)
            default: return (nil, 1)
            }
        case .form(let pairs):
            let found = pairs.filter { $0.name == name }
            return (found.first?.value, found.count)
        case .multipart(_, let parts):
            let found = parts.filter { $0.name == name }
            return (found.first.map { String(decoding: $0.content, as: UTF8.self) }, found.count)
        }
    }

    /// Without the fields `names` (key-auth's `hide_credentials` for a key found in the body).
    public func removing(_ names: [String]) -> RequestBody {
        switch self {
        case .json(let value):
            guard case .object(var fields) = value else { return self }
            for name in names { fields[name] = nil }
            return .json(.object(fields))
        case .form(let pairs):
            return .form(pairs.filter { !names.contains($0.name) })
        case .multipart(let boundary, let parts):
            return .multipart(boundary: boundary, parts: parts.filter { !names.contains($0.name) })
        }
    }

    /// The body's bytes.
    public func serialized() -> [UInt8] {
        switch self {
        case .json(let value):
            return Array(JSONText.encode(value).utf8)
        case .form(let pairs):
            return Array(pairs.map { PercentEncoding.encode($0.name) + "=" + PercentEncoding.encode($0.value) }
                .joined(separator: "&").utf8)
        case .multipart(let boundary, let parts):
            return MultipartBody.serialize(parts, boundary: boundary)
        }
    }
}

