/// Applies `FieldSpec`s to JSON values the way Kong's schema library does
/// (`kong/db/schema/init.lua`): type check, then the validations in Kong's order
/// (one_of, gt, between, length, starts_with, custom), first failure only; defaults filled in
/// for absent fields; records filled in recursively; unknown record keys rejected.
public enum SchemaValidator {
    /// Validates `value` (nil = the field is absent) and returns it with defaults filled in,
    /// or nil when it is absent and has no default. Errors are appended to `errors`.
    public static func validate(_ value: JSONValue?, _ spec: FieldSpec, path: String, errors: inout [FieldError]) -> JSONValue? {
        guard let value else {
            if let defaultValue = spec.defaultValue {
                if case .record = spec.kind { return validate(defaultValue, spec, path: path, errors: &errors) }
                return defaultValue
            }
            if case .record = spec.kind { return validate(.object([:]), spec, path: path, errors: &errors) }
            if spec.required { errors.append(FieldError(path: path, message: KongMessage.required)) }
            return nil
        }
        if value.isNull {
            if spec.required { errors.append(FieldError(path: path, message: KongMessage.required)) }
            return .null
        }
        switch spec.kind {
        case .any:
            return check(value, spec, path: path, errors: &errors)
        case .string:
            guard case .string(let s) = value else { return fail(value, KongMessage.string, path, &errors) }
            if let oneOf = spec.oneOf, !oneOf.contains(value) {
                return fail(value, KongMessage.oneOf(oneOf), path, &errors)
            }
            let count = s.count
            if count < (spec.lenMin ?? 1) { return fail(value, KongMessage.lenMin(spec.lenMin ?? 1), path, &errors) }
            if let max = spec.lenMax, count > max { return fail(value, KongMessage.lenMax(max), path, &errors) }
            if let prefix = spec.startsWith, !s.hasPrefix(prefix) {
                return fail(value, KongMessage.startsWith(prefix), path, &errors)
            }
            return check(value, spec, path: path, errors: &errors)
        case .integer:
            guard !isBool(value), let i = value.intValue else { return fail(value, KongMessage.integer, path, &errors) }
            return checkNumber(.int(i), Double(i), spec, path: path, errors: &errors)
        case .number:
            guard !isBool(value), let d = value.doubleValue else { return fail(value, KongMessage.number, path, &errors) }
            return checkNumber(value, d, spec, path: path, errors: &errors)
        case .boolean:
            guard value.boolValue != nil else { return fail(value, KongMessage.boolean, path, &errors) }
            return check(value, spec, path: path, errors: &errors)
        case .array(let element), .set(let element):
            let isSet: Bool
            if case .set = spec.kind { isSet = true } else { isSet = false }
            guard case .array(let items) = value else {
                return fail(value, isSet ? KongMessage.set : KongMessage.array, path, &errors)
            }
            var element = element
            element.required = true
            var out: [JSONValue] = []
            for (i, item) in items.enumerated() {
                let processed = validate(item, element, path: DocPath.join(path, index: i), errors: &errors) ?? item
                if !isSet || !out.contains(processed) { out.append(processed) }
            }
            if let min = spec.lenMin, items.count < min { return fail(value, KongMessage.lenMin(min), path, &errors) }
            if let max = spec.lenMax, items.count > max { return fail(value, KongMessage.lenMax(max), path, &errors) }
            return check(.array(out), spec, path: path, errors: &errors)
        case .map(let keys, let values):
            guard case .object(let fields) = value else { return fail(value, KongMessage.map, path, &errors) }
            var values = values
            values.required = true
            var out: [String: JSONValue] = [:]
            for key in fields.keys.sorted() {
                let keyPath = DocPath.join(path, key)
                var keyErrors: [FieldError] = []
                _ = validate(.string(key), keys, path: keyPath, errors: &keyErrors)
                errors.append(contentsOf: keyErrors)
                out[key] = validate(fields[key], values, path: keyPath, errors: &errors)
            }
            return check(.object(out), spec, path: path, errors: &errors)
        case .record(let schemaFields, let checks):
            guard case .object(let fields) = value else { return fail(value, KongMessage.record, path, &errors) }
            let before = errors.count
            let out = validateRecord(fields, schemaFields, path: path, errors: &errors)
            if errors.count == before {
                for recordCheck in checks { errors.append(contentsOf: recordCheck.run(out, path)) }
            }
            return check(.object(out), spec, path: path, errors: &errors)
        }
    }

    /// Validates the fields of a record (no record checks) and reports keys the schema does not know.
    static func validateRecord(
        _ fields: [String: JSONValue], _ schemaFields: [SchemaField], path: String, errors: inout [FieldError]
    ) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for field in schemaFields {
            if let processed = validate(fields[field.name], field.spec, path: DocPath.join(path, field.name), errors: &errors) {
                out[field.name] = processed
            }
        }
        let known = Set(schemaFields.map(\.name))
        for key in fields.keys.sorted() where !known.contains(key) {
            errors.append(FieldError(path: DocPath.join(path, key), message: KongMessage.unknown))
        }
        return out
    }

    private static func isBool(_ value: JSONValue) -> Bool {
        if case .bool = value { return true }
        return false
    }

    private static func fail(_ value: JSONValue, _ message: String, _ path: String, _ errors: inout [FieldError]) -> JSONValue {
        errors.append(FieldError(path: path, message: message))
        return value
    }

    private static func checkNumber(
        _ value: JSONValue, _ number: Double, _ spec: FieldSpec, path: String, errors: inout [FieldError]
    ) -> JSONValue {
        if let oneOf = spec.oneOf, !oneOf.contains(where: { $0.doubleValue == number }) {
            return fail(value, KongMessage.oneOf(oneOf), path, &errors)
        }
        if let limit = spec.greaterThan, !(number > limit) {
            return fail(value, KongMessage.greaterThan(limit), path, &errors)
        }
        if let range = spec.between, !range.contains(number) {
            return fail(value, KongMessage.between(range.lowerBound, range.upperBound), path, &errors)
        }
        return check(value, spec, path: path, errors: &errors)
    }

    /// Runs the spec's custom validators; the first message wins.
    private static func check(_ value: JSONValue, _ spec: FieldSpec, path: String, errors: inout [FieldError]) -> JSONValue {
        for validator in spec.validators {
            if let message = validator(value) { return fail(value, message, path, &errors) }
        }
        return value
    }
}
