import ArgusConfig
import ArgusHTTP
import Foundation

/// Kong's list responses: `{"data": […], "next": "/services?offset=…" | null, "offset": "…"}`,
/// ordered by primary key; `size` 1…1000 (default 100); `offset` an opaque token (here the
/// base64 of the last id shown); `tags=a,b` keeps entities with every tag, `tags=a/b` with any.
enum Pagination {
    static func page(_ items: [JSONValue], request: AdminRequest, basePath: String) -> AdminResponse {
        let arguments = request.arguments
        var size = 100
        if let text = arguments["size"] {
            guard let n = Int(text), (1...1000).contains(n) else {
                return .coded(400, code: 9, name: "invalid size", message: "size must be an integer between 1 and 1000")
            }
            size = n
        }
        var list = items.sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
        if let tags = arguments["tags"], !tags.isEmpty {
            let any = tags.contains("/")
            let wanted = tags.split(whereSeparator: { $0 == "," || $0 == "/" }).map(String.init)
            list = list.filter { item in
                let have = Set(item["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                return any ? wanted.contains(where: have.contains) : wanted.allSatisfy(have.contains)
            }
        }
        if let token = arguments["offset"], !token.isEmpty {
            guard let data = Data(base64Encoded: token), let after = String(data: data, encoding: .utf8), !after.isEmpty else {
                return .coded(400, code: 7, name: "invalid offset", message: "'\(token)' is not a valid offset: bad base64 encoding")
            }
            list = list.filter { ($0["id"]?.stringValue ?? "") > after }
        }
        var body: [String: JSONValue] = ["data": .array(Array(list.prefix(size))), "next": .null]
        if list.count > size, let last = list[size - 1]["id"]?.stringValue {
            let token = Data(last.utf8).base64EncodedString()
            var next = "\(basePath)?offset=\(percentEncode(token))"
            if let s = arguments["size"] { next += "&size=\(s)" }
            if let t = arguments["tags"] { next += "&tags=\(percentEncode(t))" }
            body["next"] = .string(next)
            body["offset"] = .string(token)
        }
        return .json(200, .object(body))
    }

    static func percentEncode(_ s: String) -> String { PercentEncoding.encode(s) }
}
