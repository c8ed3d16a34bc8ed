/// Kong's schema messages (`kong/db/schema/init.lua`), shared by every validator.
enum KongMessage {
    static let required = "required field missing"
    static let unknown = "unknown field"
    static let string = "expected a string"
    static let integer = "expected an integer"
    static let number = "expected a number"
    static let boolean = "expected a boolean"
    static let array = "expected an array"
    static let set = "expected a set"
    static let map = "expected a map"
    static let record = "expected a record"
    static let uuid = "expected a valid UUID"
    static let timestamp = "expected a valid timestamp"
    static let mustBeNull = "value must be null"

    static func between(_ low: Double, _ high: Double) -> String {
        "value should be between \(format(low)) and \(format(high))"
    }

    static func oneOf(_ options: [JSONValue]) -> String {
        "expected one of: " + options.map(text).joined(separator: ", ")
    }

    static func lenMin(_ n: Int) -> String { "length must be at least \(n)" }
    static func lenMax(_ n: Int) -> String { "length must be at most \(n)" }
    static func startsWith(_ prefix: String) -> String { "should start with: \(prefix)" }
    static func greaterThan(_ n: Double) -> String { "value must be greater than \(format(n))" }

    /// `'a', 'b', 'c'`, as Kong's `quoted_list`.
    static func quoted(_ names: [String]) -> String {
        names.map { "'\($0)'" }.joined(separator: ", ")
    }

    static func atLeastOneOf(_ names: [String]) -> String {
        "at least one of these fields must be non-empty: " + quoted(names)
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e18 { return String(Int(value)) }
        return String(value)
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return format(d)
        case .bool(let b): return String(b)
        case .null: return "null"
        case .array, .object: return String(describing: value)
        }
    }
}
