/// A compiled regular expression (route regex path, `~*` header value, a CORS origin), shareable
/// across threads; here, below the router and the plugins that both use it.
///
/// `@unchecked Sendable` justification: `Regex<AnyRegexOutput>` is a value type that is not
/// `Sendable` only because its `Output` type (`AnyRegexOutput`) is not. The wrapped regex is a `let`,
/// never mutated after `init`. Its one piece of interior mutability is the lazily lowered matching
/// program (`Regex.Program._loweredProgramStorage`, published with an atomic compare-and-swap); `init`
/// runs one match so that the program is lowered before the instance can be shared, and from then on
/// concurrent matches only read it. Match results are created per call and never shared.
public final class CompiledRegex: @unchecked Sendable {
    private let regex: Regex<AnyRegexOutput>
    /// The source pattern, for diagnostics and tests.
    public let pattern: String
    /// Bytes every match must start with when the pattern is anchored (`^literal...`): a cheap
    /// pre-check before running the regex engine. Empty when nothing is known.
    public let requiredPrefix: [UInt8]

    /// Compiles `pattern` with Unicode-scalar semantics (as Rust's `regex` crate, which Kong's ATC
    /// router uses: `.` is one code point, not one grapheme cluster). Nil when it does not compile.
    public init?(_ pattern: String) {
        guard let compiled = try? Regex(pattern) else { return nil }
        regex = compiled.matchingSemantics(.unicodeScalar)
        self.pattern = pattern
        requiredPrefix = Self.anchoredLiteralPrefix(of: pattern)
        // Forces the lazy lowering of the program now, before the instance is shared.
        _ = try? regex.firstMatch(in: "")
    }

    /// The leftmost match anywhere in `input` (Rust `Regex::captures`: unanchored search).
    public func firstMatch(in input: String) -> Regex<AnyRegexOutput>.Match? {
        try? regex.firstMatch(in: input)
    }

    /// `firstMatch(in: input)`, skipped when `bytes` (the UTF-8 of `input`) cannot start with
    /// `requiredPrefix`.
    public func firstMatch(in input: String, bytes: UnsafeBufferPointer<UInt8>) -> Regex<AnyRegexOutput>.Match? {
        guard requiredPrefix.count <= bytes.count,
            requiredPrefix.withUnsafeBufferPointer({ $0.elementsEqual(bytes[0..<requiredPrefix.count]) })
        else { return nil }
        return firstMatch(in: input)
    }

    public func matches(_ input: String) -> Bool {
        firstMatch(in: input) != nil
    }

    /// Whether the whole of `input` matches (PCRE's anchored match of a `…$` pattern).
    public func matchesWhole(_ input: String) -> Bool {
        (try? regex.wholeMatch(in: input)) != nil
    }

    /// The literal text right after a leading `^`, conservatively: nothing when the pattern has a
    /// `|` anywhere (with `^a|b` only the first branch is anchored), stopping at the first character
    /// with a meaning in regex syntax, and dropping the last literal when a quantifier follows it.
    static func anchoredLiteralPrefix(of pattern: String) -> [UInt8] {
        let bytes = Array(pattern.utf8)
        guard bytes.first == UInt8(ascii: "^"), !bytes.contains(UInt8(ascii: "|")) else { return [] }
        let special = Set("\\.*+?()[]{}^$#".utf8)
        let quantifiers = Set("*+?{".utf8)
        var literal: [UInt8] = []
        var index = 1
        while index < bytes.count, !special.contains(bytes[index]), bytes[index] < 0x80, bytes[index] > 0x20 {
            literal.append(bytes[index])
            index += 1
        }
        if index < bytes.count, quantifiers.contains(bytes[index]), !literal.isEmpty { literal.removeLast() }
        return literal
    }
}

extension Regex<AnyRegexOutput>.Match {
    /// Kong's `uri_captures`: `"0"` plus every participating numbered group, and named groups by
    /// name; empty when the regex has no group at all.
    public var kongCaptures: [String: String] {
        guard output.count > 1 else { return [:] }
        var captures: [String: String] = [:]
        for (number, group) in output.enumerated() {
            guard let text = group.substring else { continue }
            captures[String(number)] = String(text)
            if let name = group.name { captures[name] = String(text) }
        }
        return captures
    }
}
