import ArgusConfig

/// `multipart/form-data` bodies (RFC 7578) as name/value pairs: each part's
/// `Content-Disposition: form-data; name="…"` gives the name, its bytes the value; a part typed
/// `application/json` is decoded as JSON, as Kong does.
enum MultipartParser {
    enum Failure: Error { case malformed(String) }

    /// The boundary parameter of a `multipart/form-data` content type.
    static func boundary(contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmed(of: " \t") }
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    static func pairs(_ body: [UInt8], boundary: String) throws(Failure) -> [(name: String, value: JSONValue)] {
        let delimiter = Array("--\(boundary)".utf8)
        guard var position = find(delimiter, in: body, from: 0) else { throw .malformed("no multipart boundary found") }
        var pairs: [(name: String, value: JSONValue)] = []
        while true {
            position += delimiter.count
            if body[position...].starts(with: Array("--".utf8)) { return pairs }
            // the rest of the delimiter line
            guard let lineEnd = find(Array("\r\n".utf8), in: body, from: position) else { throw .malformed("truncated multipart body") }
            let headersStart = lineEnd + 2
            guard let headersEnd = find(Array("\r\n\r\n".utf8), in: body, from: headersStart) else {
                throw .malformed("multipart part without a header end")
            }
            let headerText = String(decoding: body[headersStart..<headersEnd], as: UTF8.self)
            let contentStart = headersEnd + 4
            guard let next = find(Array("\r\n".utf8) + delimiter, in: body, from: headersEnd + 2) else {
                throw .malformed("multipart part without a closing boundary")
            }
            let content = next >= contentStart ? Array(body[contentStart..<next]) : []
            var name: String?
            var isJSON = false
            for line in headerText.split(separator: "\r\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let header = parts[0].lowercased()
                let value = String(parts[1])
                if header == "content-disposition" { name = dispositionName(value) }
                if header == "content-type" { isJSON = value.trimmed(of: " \t").lowercased().hasPrefix("application/json") }
            }
            if let name {
                let text = String(decoding: content, as: UTF8.self)
                if isJSON, let value = try? ConfigLoader.parseValue(text: text) {
                    pairs.append((name, value))
                } else {
                    pairs.append((name, .string(text)))
                }
            }
            position = next + 2
        }
    }

    private static func dispositionName(_ value: String) -> String? {
        for parameter in value.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmed(of: " \t") }
            guard pair.count == 2, pair[0].lowercased() == "name" else { continue }
            var name = pair[1]
            if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") { name = String(name.dropFirst().dropLast()) }
            return name
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

extension StringProtocol {
    func trimmed(of set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        var view = Substring(self).unicodeScalars[...]
        while let first = view.first, scalars.contains(first) { view = view.dropFirst() }
        while let last = view.last, scalars.contains(last) { view = view.dropLast() }
        return String(String.UnicodeScalarView(view))
    }
}
