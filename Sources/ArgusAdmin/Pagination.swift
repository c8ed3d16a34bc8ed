import ArgusConfig
import ArgusHTTP
import Foundation

/// Kong's list responses: `{"data": […], "next": "/services?offset=…" | null, "offset": "…"}`,
/// ordered by primary key; `size` 1…1000 (default 100); `offset` an opaque token (here the
/// base64 of the last id shown); `tags=a,b` keeps entities with every tag, `tags=a/b` with any.
enum Pagination {
    /// What a list does with `?tags=`: a top-level collection filters by it; a nested one (Kong
    /// pages those by their parent) checks its syntax and ignores it; `/tags` ignores it.
    enum TagFilter { case apply, checkOnly, ignore }

    /// How a list is ordered and paged: by primary key with an opaque offset, or (an upstream's
    /// targets, `kong/db/dao/targets.lua`) newest first with the index as offset.
    enum Order { case byID, newestFirst }

    static func page(
        _ items: [JSONValue], request: AdminRequest, basePath: String, tags tagFilter: TagFilter = .apply, order: Order = .byID
    ) -> AdminResponse {
        let arguments = request.arguments
        var wanted: (tags: [String], any: Bool)?
        if tagFilter != .ignore, let tags = arguments["tags"] {
            switch TagQuery.parse(tags) {
            case .failure(let reason):
                return .coded(
                    400, code: 11, name: "invalid options", message: "invalid option (tags: \(reason))",
                    options: .object(["tags": .string(reason.description)]))
            case .success(let query):
                if tagFilter == .apply { wanted = query }
            }
        }
        var size = 100
        if let text = arguments["size"] {
            // Kong: not a number at all (`get_page_size`), then not an integer in range (the DAO's check)
            guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite else {
                return .coded(400, code: 9, name: "invalid size", message: "size must be a number")
            }
            guard number.rounded() == number, let n = Int(exactly: number), (1...1000).contains(n) else {
                return .coded(400, code: 9, name: "invalid size", message: "size must be an integer between 1 and 1000")
            }
            size = n
        }
        if order == .newestFirst { return newestFirst(items, arguments: arguments, size: size, basePath: basePath) }
        var list = items.sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
        if let wanted {
            list = list.filter { item in
                let have = Set(item["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                return wanted.any ? wanted.tags.contains(where: have.contains) : wanted.tags.allSatisfy(have.contains)
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
            // Kong's order: offset, tags (top-level lists only), size
            var next = "\(basePath)?offset=\(percentEncode(token))"
            if tagFilter == .apply, let t = arguments["tags"] { next += "&tags=\(percentEncode(t))" }
            // (a nested list's and /tags' next carry the offset alone: `kong/api/endpoints.lua`, `routes/tags.lua`)
            if tagFilter == .apply, let s = arguments["size"] { next += "&size=\(s)" }
            body["next"] = .string(next)
            body["offset"] = .string(token)
        }
        return .json(200, .object(body))
    }

    /// Newest first (`created_at` descending, then `id` descending); `offset` is the index of the
    /// first item shown, as Kong's in-memory paging of targets writes it (`"3"`).
    private static func newestFirst(_ items: [JSONValue], arguments: [String: String], size: Int, basePath: String) -> AdminResponse {
        let list = items.sorted { a, b in
            let (ca, cb) = (a["created_at"]?.doubleValue ?? 0, b["created_at"]?.doubleValue ?? 0)
            return ca != cb ? ca > cb : (a["id"]?.stringValue ?? "") > (b["id"]?.stringValue ?? "")
        }
        var start = 0
        if let token = arguments["offset"], !token.isEmpty {
            guard let n = Int(token), n >= 0 else {
                return .coded(400, code: 7, name: "invalid offset", message: "'\(token)' is not a valid offset: bad base64 encoding")
            }
            start = min(n, list.count)
        }
        let end = min(start + size, list.count)
        var body: [String: JSONValue] = ["data": .array(Array(list[start..<end])), "next": .null]
        if end < list.count {
            body["next"] = .string("\(basePath)?offset=\(end)")
            body["offset"] = .string(String(end))
        }
        return .json(200, .object(body))
    }

    static func percentEncode(_ s: String) -> String { PercentEncoding.encode(s) }
}

/// Kong's `?tags=` syntax (`kong/api/endpoints.lua`): `a,b` (every tag) or `a/b` (any tag), at most
/// 5, each of printable ASCII but `,` and `/`, or UTF-8; mixing the two separators, an empty tag
/// or another byte is `invalid filter syntax`; an empty value `cannot be null`.
enum TagQuery {
    static func parse(_ text: String) -> Result<(tags: [String], any: Bool), TagQueryError> {
        guard !text.isEmpty else { return .failure(TagQueryError("cannot be null")) }
        let bytes = Array(text.utf8)
        let allowed = { (b: UInt8) in (0x20...0x2B).contains(b) || b == 0x2D || b == 0x2E || (0x30...0x7E).contains(b) || (0x80...0xF4).contains(b) }
        let hasComma = bytes.contains(UInt8(ascii: ",")), hasSlash = bytes.contains(UInt8(ascii: "/"))
        let separator: Character = hasSlash ? "/" : ","
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        // a single trailing separator is allowed (`a,`: Kong then asks for the tags `a` and ``,
        // which nothing has), an empty tag elsewhere is not; a byte that is not UTF-8 (decoded as
        // U+FFFD) is outside Kong's class
        guard !(hasComma && hasSlash), !parts.dropLast().contains(where: \.isEmpty), parts.first?.isEmpty == false,
              !text.contains("\u{FFFD}"),
              bytes.allSatisfy({ allowed($0) || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "/") })
        else { return .failure(TagQueryError("invalid filter syntax")) }
        guard parts.count <= 5 else { return .failure(TagQueryError("cannot query more than 5 tags")) }
        return .success((parts.map(String.init), hasSlash))
    }
}

struct TagQueryError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
