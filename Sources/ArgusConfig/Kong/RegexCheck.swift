/// Compiles route regexes to check them. Kong uses PCRE; Argus checks with Swift's `Regex`,
/// whose syntax is a PCRE superset for what routes use (named groups `(?<n>…)`, `\d`, classes).
enum RegexCheck {
    /// nil when `pattern` compiles, else Kong's `invalid regex: '…' (…)` message.
    static func problem(in pattern: String) -> String? {
        do {
            _ = try Regex(pattern)
            return nil
        } catch {
            return "invalid regex: '\(pattern)' (\(error))"
        }
    }
}
