/// The path Kong sends upstream (`kong.router.utils.get_upstream_uri_v0`, `kong.tools.uri.escape`).
public enum UpstreamPath {
    /// The strip_path / service.path join table of kong-compat §2 (path_handling v0); exposed for table tests.
    ///
    /// - Parameters:
    ///   - servicePath: the service's `path`; nil means `/`.
    ///   - requestPath: the normalised request path (no query string).
    ///   - matchedPrefix: what the route's path matched: the prefix itself for a prefix path, the whole
    ///     regex match for a regex path, nil for a route without paths (then, as Kong, `/` is stripped).
    ///   - stripPath: the route's `strip_path`.
    /// - Returns: the unescaped upstream path; `escape` it before sending.
    public static func join(servicePath: String?, requestPath: String, matchedPrefix: Substring?, stripPath: Bool) -> String {
        let base = servicePath ?? "/"
        let request = requestPath.utf8
        // Kong: prefix = strip_path and matched_path or "/"; postfix = uri:sub(#prefix + 1).
        let strippedCount = stripPath ? (matchedPrefix?.utf8.count ?? 1) : 1
        let postfix = sanitizedPostfix(Substring(request.dropFirst(strippedCount)))
        let requestEndsWithSlash = request.last == .slash

        if base.utf8.last == .slash {
            guard stripPath else {
                return base + requestPath.utf8.dropFirst(1).asSubstring
            }
            if postfix.isEmpty {
                if base == "/" { return "/" }
                return requestEndsWithSlash ? base : String(base.utf8.dropLast(1).asSubstring)
            }
            if postfix.utf8.first == .slash {
                return String(base.utf8.dropLast(1).asSubstring) + postfix
            }
            return base + postfix
        }

        guard stripPath else {
            return requestPath == "/" ? base : base + requestPath
        }
        if postfix.isEmpty {
            return request.count > 1 && requestEndsWithSlash ? base + "/" : base
        }
        if postfix.utf8.first == .slash {
            return base + postfix
        }
        return base + "/" + postfix
    }

    /// Kong's `sanitize_uri_postfix`: a remainder of `.` or `..` becomes empty, a leading `./` or
    /// `../` is dropped.
    static func sanitizedPostfix(_ postfix: Substring) -> Substring {
        let bytes = postfix.utf8
        if bytes.elementsEqual([.dot]) || bytes.elementsEqual([.dot, .dot]) { return "" }
        if bytes.starts(with: [.dot, .slash]) { return bytes.dropFirst(2).asSubstring }
        if bytes.starts(with: [.dot, .dot, .slash]) { return bytes.dropFirst(3).asSubstring }
        return postfix
    }

    /// Kong's `kong.tools.uri.escape`, applied to `upstream_uri` before proxying: every byte outside
    /// ``!#$&'()*+,/:;=?@[]``, ASCII letters and digits, `-._~` and `%` becomes `%XX` (upper-case
    /// hex). Existing escapes are kept as they are, so decoded "other" characters (space, UTF-8, ...)
    /// leave encoded again while reserved ones the normaliser kept encoded are not double-encoded.
    public static func escape(_ path: String) -> String {
        guard path.utf8.contains(where: { !isAllowed($0) }) else { return path }
        var output: [UInt8] = []
        output.reserveCapacity(path.utf8.count + 16)
        for byte in path.utf8 {
            if isAllowed(byte) {
                output.append(byte)
            } else {
                output.append(.percent)
                output.append(PathNormalizer.hexDigit(byte >> 4))
                output.append(PathNormalizer.hexDigit(byte & 0x0F))
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","),
            UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "?"),
            UInt8(ascii: "@"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "-"), UInt8(ascii: "_"),
            UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }
}

extension Substring.UTF8View {
    /// The same bytes as a `Substring`. Callers only cut at Unicode scalar boundaries (after a whole
    /// prefix or regex match, or after an ASCII byte).
    var asSubstring: Substring { Substring(self) }
}
