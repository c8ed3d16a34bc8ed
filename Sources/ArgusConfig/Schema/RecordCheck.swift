/// A record-level ("entity") check, run once every field of the record validated cleanly.
/// It receives the record with defaults filled in and the record's path, and returns errors
/// (paths should be absolute, built from the given one).
public struct RecordCheck: Sendable {
    public let run: @Sendable (_ record: [String: JSONValue], _ path: String) -> [FieldError]

    public init(_ run: @escaping @Sendable (_ record: [String: JSONValue], _ path: String) -> [FieldError]) {
        self.run = run
    }
}

/// Kong's entity checks (`kong/db/schema/init.lua`), with its messages.
extension RecordCheck {
    /// Kong's `is_nonempty`: not absent, not null, not an empty string, array or record.
    static func isNonEmpty(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: return false
        case .string(let s)?: return !s.isEmpty
        case .array(let a)?: return !a.isEmpty
        case .object(let o)?: return !o.isEmpty
        default: return true
        }
    }

    /// `at least one of these fields must be non-empty: 'a', 'b'`, reported on the record.
    public static func atLeastOneOf(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            names.contains(where: { isNonEmpty(record[$0]) })
                ? [] : [FieldError(path: path, message: KongMessage.atLeastOneOf(names))]
        }
    }

    /// `exactly one of these fields must be non-empty: 'a', 'b'`.
    public static func onlyOneOf(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            names.filter({ isNonEmpty(record[$0]) }).count == 1
                ? [] : [FieldError(path: path, message: "exactly one of these fields must be non-empty: " + KongMessage.quoted(names))]
        }
    }

    /// `all or none of these fields must be set: 'a', 'b'`.
    public static func mutuallyRequired(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            let count = names.filter({ isNonEmpty(record[$0]) }).count
            return count == 0 || count == names.count
                ? [] : [FieldError(path: path, message: "all or none of these fields must be set: " + KongMessage.quoted(names))]
        }
    }

    /// `only one or none of these fields must be set: 'a', 'b'`.
    public static func mutuallyExclusive(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            names.filter({ isNonEmpty(record[$0]) }).count <= 1
                ? [] : [FieldError(path: path, message: "only one or none of these fields must be set: " + KongMessage.quoted(names))]
        }
    }

    /// `values of these fields must be distinct: 'a', 'b'` (null values are ignored).
    public static func distinct(_ names: [String]) -> RecordCheck {
        RecordCheck { record, path in
            let values = names.compactMap { record[$0] }.filter { !$0.isNull }
            return Set(values).count == values.count
                ? [] : [FieldError(path: path, message: "values of these fields must be distinct: " + KongMessage.quoted(names))]
        }
    }

    /// When `ifField` satisfies `condition`, `thenField` must be non-empty (`required field missing`).
    public static func requires(
        _ thenField: String, when ifField: String, _ condition: @escaping @Sendable (JSONValue) -> Bool
    ) -> RecordCheck {
        RecordCheck { record, path in
            guard let value = record[ifField], condition(value), !isNonEmpty(record[thenField]) else { return [] }
            return [FieldError(path: DocPath.join(path, thenField), message: KongMessage.required)]
        }
    }

    /// When `ifField` satisfies `condition`, `thenField` must be one of `options` (`expected one of: …`).
    public static func restricts(
        _ thenField: String, to options: [String], when ifField: String, _ condition: @escaping @Sendable (JSONValue) -> Bool
    ) -> RecordCheck {
        RecordCheck { record, path in
            guard let value = record[ifField], condition(value), let then = record[thenField], !then.isNull,
                  !options.contains(where: { JSONValue.string($0) == then }) else { return [] }
            return [FieldError(path: DocPath.join(path, thenField), message: KongMessage.oneOf(options.map(JSONValue.string)))]
        }
    }
}
