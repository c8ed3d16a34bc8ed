/// `multipart/form-data` bodies (RFC 7578): parts with their header lines and bytes, read and
/// written back, for the Admin API's form bodies and the plugins that read request bodies.
public enum MultipartBody {
    public struct Part: Sendable {
        /// The `name` of its `Content-Disposition`.
        public var name: String
        /// The part's header lines as received, without the final CRLF.
        public var headers: String
        public var content: [UInt8]

        public init(name: String, headers: String, content: [UInt8]) {
            self.name = name
            self.headers = headers
            self.content = content
        }

        /// A plain text field.
        public static func text(_ name: String, _ value: String) -> Part {
            Part(name: name, headers: "Content-Disposition: form-data; name=\"\(name)\"", content: Array(value.utf8))
        }

        /// The value of one of its headers (`content-type`, lower-cased name), if present.
        public func header(_ lowercasedName: String) -> String? {
            for line in headers.split(separator: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                if pair.count == 2, pair[0].lowercased() == lowercasedName { return trim(pair[1]) }
            }
            return nil
        }
    }

    /// The `boundary` parameter of a `multipart/form-data` Content-Type.
    public static func boundary(contentType: String) -> String? {
        parameter("boundary", of: contentType).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The parts, or nil when the body is not well-formed multipart with this boundary.
    public static func parse(_ body: [UInt8], boundary: String) -> [Part]? {
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [13, 10]
        guard var position = find(delimiter, in: body, from: 0) else { return nil }
        var parts: [Part] = []
        while true {
            position += delimiter.count
            if body.count >= position + 2, body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") { return parts }
            guard let lineEnd = find(crlf, in: body, from: position),
                  let headersEnd = find(crlf + crlf, in: body, from: lineEnd),
                  let next = find(crlf + delimiter, in: body, from: headersEnd + 2)
            else { return nil }
            let headers = String(decoding: body[(lineEnd + 2)..<headersEnd], as: UTF8.self)
            let contentStart = headersEnd + 4
            let content = next >= contentStart ? Array(body[contentStart..<next]) : []
            var name = ""
            for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                name = parameter("name", of: String(line)) ?? ""
            }
            parts.append(Part(name: name, headers: headers, content: content))
            position = next + 2
        }
    }

    public static func serialize(_ parts: [Part], boundary: String) -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            out += Array("--\(boundary)\r\n\(part.headers)\r\n\r\n".utf8)
            out += part.content
            out += [13, 10]
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    /// A `name=value` parameter of a header value (`; name="x"`), unquoted.
    static func parameter(_ name: String, of value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, trim(pair[0]).lowercased() == name else { continue }
            var text = trim(pair[1])
            if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
            return text
        }
        return nil
    }

    static func trim(_ s: Substring) -> String {
        var s = s
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start >= 0, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
