import Foundation

/// A request-transformer value with Kong's `$(…)` templates, parsed once at load. Kong's
/// templates are Lua expressions; Argus evaluates the forms Kong users write that need no Lua —
/// `headers.x`, `headers["x-y"]`, `query_params.x`, `query_params["x"]`, `uri_captures.n`,
/// `uri_captures["n"]`, `uri_captures[1]`, a quoted literal (Kong's way of writing a literal
/// `$(…)`: `$('$(uri_captures.user1)')`), and any of them followed by `or 'default'` — and
/// refuses any other expression at load, naming it. A missing value renders as the empty
/// string, as in Kong.
public struct TransformerTemplate: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case header(String)
        case query(String)
        case capture(String)
    }

    public enum Part: Sendable, Equatable {
        case text(String)
        /// A value, or `fallback` when it is missing (Lua's `x or 'd'`: an empty value is a value).
        case value(Source, fallback: String?)
    }

    public let parts: [Part]

    /// The value has no template: it is used as written.
    public var isLiteral: Bool { parts.allSatisfy { if case .text = $0 { return true } else { return false } } }

    /// Parses `text`; the error names the expression Argus can not evaluate.
    public static func parse(_ text: String) -> Result<TransformerTemplate, TemplateError> {
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            let open = rest.index(after: dollar)
            // `$` not followed by a balanced `(…)` is text (Lua's %b())
            guard open < rest.endIndex, rest[open] == "(", let close = balancedEnd(rest, from: open) else {
                literal += rest[...dollar]
                rest = rest[open...]
                continue
            }
            literal += rest[..<dollar]
            let expression = rest[rest.index(after: open)..<close]
            switch parseExpression(expression) {
            case .success(.text(let text)):
                literal += text
            case .success(let part):
                if !literal.isEmpty { parts.append(.text(literal)) }
                literal = ""
                parts.append(part)
            case .failure(let error):
                return .failure(error)
            }
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.text(literal)) }
        return .success(TransformerTemplate(parts: parts))
    }

    /// Where the `(` at `open` is closed, counting nested parentheses.
    private static func balancedEnd(_ text: Substring, from open: Substring.Index) -> Substring.Index? {
        var depth = 0
        var i = open
        while i < text.endIndex {
            if text[i] == "(" { depth += 1 }
            if text[i] == ")" {
                depth -= 1
                if depth == 0 { return i }
            }
            i = text.index(after: i)
        }
        return nil
    }

    private static func parseExpression(_ raw: Substring) -> Result<Part, TemplateError> {
        let expression = raw.trimmingSpaces()
        var reference = expression
        var fallback: String?
        if let or = expression.range(of: " or ") {
            reference = expression[..<or.lowerBound].trimmingSpaces()
            guard let literal = quoted(expression[or.upperBound...].trimmingSpaces()) else { return .failure(TemplateError(expression: String(raw))) }
            fallback = literal
        }
        if fallback == nil, let literal = quoted(reference) { return .success(.text(literal)) }
        for (prefix, make) in [("headers", Source.header), ("query_params", Source.query), ("uri_captures", Source.capture)] as [(String, (String) -> Source)] {
            guard reference.hasPrefix(prefix) else { continue }
            let key = reference.dropFirst(prefix.count)
            if key.hasPrefix("."), key.count > 1, isIdentifier(key.dropFirst()) {
                return .success(.value(make(String(key.dropFirst())), fallback: fallback))
            }
            if key.hasPrefix("["), key.hasSuffix("]") {
                let inside = key.dropFirst().dropLast().trimmingSpaces()
                if let name = quoted(inside) { return .success(.value(make(name), fallback: fallback)) }
                if prefix == "uri_captures", !inside.isEmpty, inside.allSatisfy(\.isNumber) {
                    return .success(.value(make(String(inside)), fallback: fallback))
                }
            }
        }
        return .failure(TemplateError(expression: String(raw)))
    }

    /// `'text'` or `"text"` without escapes inside.
    private static func quoted(_ text: Substring) -> String? {
        guard text.count >= 2, let first = text.first, first == "'" || first == "\"", text.last == first else { return nil }
        let inside = text.dropFirst().dropLast()
        return inside.contains(first) || inside.contains("\\") ? nil : String(inside)
    }

    private static func isIdentifier(_ text: Substring) -> Bool {
        guard let first = text.first, first == "_" || first.isLetter else { return false }
        return text.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}

/// An expression in `$(…)` that Argus can not evaluate.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var expression: String
    public var description: String {
        "template $(\(expression)) can not be evaluated: Argus renders $(headers.x), $(headers[\"x-y\"]), $(query_params.x), "
            + "$(uri_captures.n), $(uri_captures[1]), a quoted literal, and any of them with or 'default'"
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
