import ArgusConfig
/// One `headers` entry of a route: a header name and the values it accepts (any of them).
struct HeaderCondition: Sendable {
    /// Lower-cased name with `_` read as `-` (Kong's field `http.headers.x_foo` reads header `X-Foo`).
    let name: String
    /// Plain values, lower-cased (ASCII, as Lua's `string.lower`), compared exactly with the
    /// lower-cased request value.
    let exactValues: [String]
    /// `~*` values: regexes (lower-cased pattern, as Kong lower-cases the whole value) searched
    /// anywhere in the lower-cased request value.
    let regexes: [CompiledRegex]

    /// Nil when one of the regexes does not compile (Kong then drops the whole route).
    init?(name: String, values: [String]) {
        self.name = String(decoding: name.utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : asciiLower($0) }, as: UTF8.self)
        var exact: [String] = []
        var regexes: [CompiledRegex] = []
        for value in values {
            let lowered = String(decoding: value.utf8.map(asciiLower), as: UTF8.self)
            if lowered.utf8.starts(with: [UInt8(ascii: "~"), .asterisk]) {
                guard let regex = CompiledRegex(String(lowered.dropFirst(2))) else { return nil }
                regexes.append(regex)
            } else {
                exact.append(lowered)
            }
        }
        exactValues = exact
        self.regexes = regexes
    }

    /// True when any request value of the header matches any accepted value. No request value: false.
    func matches(_ requestValues: [String]) -> Bool {
        for value in requestValues {
            if !exactValues.isEmpty && exactValues.contains(where: { lowercasedEquals(value, $0) }) { return true }
            if !regexes.isEmpty {
                let lowered = value.lowercased()
                if regexes.contains(where: { $0.matches(lowered) }) { return true }
            }
        }
        return false
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

/// `value.lowercased()` compared byte-wise with `lowered`, without allocating for ASCII values
/// (the ATC router lower-cases request values with Rust's Unicode `to_lowercase`).
func lowercasedEquals(_ value: String, _ lowered: String) -> Bool {
    let bytes = value.utf8
    if bytes.allSatisfy({ $0 < 0x80 }) {
        return bytes.count == lowered.utf8.count && zip(bytes, lowered.utf8).allSatisfy { asciiLower($0) == $1 }
    }
    return value.lowercased().utf8.elementsEqual(lowered.utf8)
}
