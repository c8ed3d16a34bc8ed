import Foundation

/// Kong's path checks (`typedefs.path`, `typedefs.router_path`, `kong/tools/uri.lua`).
enum PathRules {
    enum PathProblem: Sendable, Equatable {
        /// Characters outside RFC 3986's reserved + unreserved set.
        case rfc3986(String)
        /// A `%` not followed by two hex digits.
        case percent(String)

        var message: String {
            switch self {
            case .rfc3986(let m), .percent(let m): return m
            }
        }
    }

    private static let allowedPathBytes: Set<UInt8> = Set("-._~/%:@!$&'()*+,;=".utf8)

    /// typedefs.path's custom validator (`validate_path`).
    static func validatePath(_ path: String) -> PathProblem? {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/"),
              bytes.allSatisfy({ isASCIIAlnum($0) || allowedPathBytes.contains($0) }) else {
            return .rfc3986("invalid path: '\(path)' (characters outside of the reserved list of RFC 3986 found)")
        }
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                let hasTwoHex = i + 2 < bytes.count && isHex(bytes[i + 1]) && isHex(bytes[i + 2])
                if !hasTwoHex {
                    let end = min(bytes.count, i + 3)
                    let bad = String(decoding: bytes[i..<end], as: UTF8.self)
                    return .percent("invalid url-encoded value: '\(bad)'")
                }
                i += 3
            } else {
                i += 1
            }
        }
        return nil
    }

    /// Validators for a Service path (`typedefs.path`): starts with `/`, no `//`, RFC 3986 characters.
    static let servicePathValidators: [@Sendable (JSONValue) -> String?] = [
        { value in value.stringValue.flatMap { $0.contains("//") ? "must not have empty segments" : nil } },
        { value in value.stringValue.flatMap { validatePath($0)?.message } },
    ]

    /// A route path (`typedefs.router_path`): `/prefix` (already normalised) or `~/regex` (must compile).
    static func validateRouterPath(_ path: String) -> String? {
        if path.contains("//") { return "must not have empty segments" }
        guard path.hasPrefix("/") || path.hasPrefix("~/") else {
            return "should start with: / (fixed path) or ~/ (regex path)"
        }
        if case .percent(let message)? = validatePath(path) { return message }
        if !path.hasPrefix("~") {
            let normalized = URINormalizer.normalize(path, mergeSlashes: true)
            if normalized != path { return "non-normalized path, consider use '\(normalized)' instead" }
            return nil
        }
        return RegexCheck.problem(in: String(path.dropFirst()))
    }

    static func isASCIIAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    static func isHex(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }
}
