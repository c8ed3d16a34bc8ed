/// Route field specs and entity checks (`routes.lua`, `routes_subschemas.lua`, traditional_compatible).
enum RouteValidator {
    static let protocolSubsets: [[String]] = [["http", "https"], ["tcp", "tls", "udp"], ["tls_passthrough"], ["grpc", "grpcs"]]

    /// `these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp')`.
    static func mutuallyExclusiveSubsets(_ value: JSONValue) -> String? {
        guard case .array(let items) = value else { return nil }
        var members: [[String]] = []
        for item in items {
            guard let p = item.stringValue, let subset = protocolSubsets.first(where: { $0.contains(p) }) else { continue }
            if !members.contains(subset) { members.append(subset) }
        }
        guard members.count > 1 else { return nil }
        return "these sets are mutually exclusive: " + members.map { "(\(KongMessage.quoted($0)))" }.joined(separator: ", ")
    }

    /// typedefs.hosts elements: at most one `*`, as the leftmost or rightmost label; may carry a port.
    static func host(_ host: String) -> String? {
        let stars = host.filter { $0 == "*" }.count
        if stars > 1 { return "invalid wildcard: must have at most one wildcard" }
        if stars == 1, !host.hasPrefix("*."), !host.hasSuffix(".*") {
            return "invalid wildcard: must be placed at leftmost or rightmost label"
        }
        return HostRules.validateHostWithOptionalPort(host.split(separator: "*", omittingEmptySubsequences: false).joined(separator: "abc"))
    }

    static func headerName(_ name: String) -> String? {
        if name.lowercased() == "host" {
            return "cannot contain 'host' header, which must be specified in the 'hosts' attribute"
        }
        return NameRules.headerName(name)
    }

    /// A header value starting with `~*` is a regex and must compile.
    static func headerValue(_ value: String) -> String? {
        value.hasPrefix("~*") ? RegexCheck.problem(in: String(value.dropFirst(2))) : nil
    }

    static let endpoint = FieldSpec.record(
        [SchemaField("ip", .string(validators: [Typedefs.string { HostRules.isIPOrCIDR($0) ? nil : "invalid ip or cidr range: '\($0)'" }])),
         SchemaField("port", Typedefs.port)],
        checks: [.atLeastOneOf(["ip", "port"])])

    static let fields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("name", Typedefs.utf8Name),
        SchemaField("protocols", FieldSpec(
            .set(Typedefs.protocol_), required: true, default: .array([.string("http"), .string("https")]), lenMin: 1,
            validators: [mutuallyExclusiveSubsets])),
        SchemaField("methods", .set(of: .string(validators: [Typedefs.string(NameRules.method)]))),
        SchemaField("hosts", .array(of: .string(validators: [Typedefs.string(host)]))),
        SchemaField("paths", .array(of: .string(validators: [Typedefs.string(PathRules.validateRouterPath)]))),
        SchemaField("headers", .map(
            keys: .string(validators: [Typedefs.string(headerName)]),
            values: .array(of: .string(validators: [Typedefs.string(headerValue)])))),
        SchemaField("https_redirect_status_code", .integer(required: true, default: 426, oneOf: [426, 301, 302, 307, 308])),
        SchemaField("regex_priority", .integer(default: 0)),
        SchemaField("strip_path", .boolean()),
        SchemaField("path_handling", .string(default: "v0", oneOf: ["v0", "v1"])),
        SchemaField("preserve_host", .boolean(required: true, default: false)),
        SchemaField("request_buffering", .boolean(required: true, default: true)),
        SchemaField("response_buffering", .boolean(required: true, default: true)),
        SchemaField("snis", .set(of: Typedefs.sni)),
        SchemaField("sources", .set(of: endpoint)),
        SchemaField("destinations", .set(of: endpoint)),
        CommonFields.tags,
    ]

    enum Subschema { case http, stream, grpc }

    /// Kong picks the subschema of the first protocol that has one.
    static func subschema(_ protocols: [String]) -> Subschema? {
        for p in protocols {
            switch p {
            case "http", "https": return .http
            case "tcp", "tls": return .stream
            case "grpc", "grpcs": return .grpc
            default: continue
            }
        }
        return nil
    }

    /// Subschema field rules: fields a protocol family cannot have (reported on the field).
    static func forbiddenFields(_ subschema: Subschema?, _ fields: [String: JSONValue], path: String) -> [FieldError] {
        let forbidden: [String]
        let family: String
        switch subschema {
        case .http?: (forbidden, family) = (["sources", "destinations"], "'http' or 'https'")
        case .stream?: (forbidden, family) = (["methods", "hosts", "paths", "headers"], "'tcp' or 'tls'")
        case .grpc?: (forbidden, family) = (["methods", "sources", "destinations"], "'grpc' or 'grpcs'")
        case nil: return []
        }
        var errors = forbidden.filter { !(fields[$0]?.isNull ?? true) }.map {
            FieldError(path: DocPath.join(path, $0), message: "cannot set '\($0)' when 'protocols' is \(family)")
        }
        if subschema == .grpc, fields["strip_path"]?.boolValue == true {
            errors.append(FieldError(path: DocPath.join(path, "strip_path"), message: "cannot set 'strip_path' when 'protocols' is \(family)"))
        }
        return errors
    }

    /// Entity checks once every field is valid: snis only with TLS protocols, and "must set one of …".
    static func entityChecks(_ subschema: Subschema?, _ record: [String: JSONValue], path: String) -> [FieldError] {
        let protocols = CommonFields.strings(record["protocols"]) ?? []
        var errors: [FieldError] = []
        let tlsProtocols = ["grpcs", "https", "tls", "tls_passthrough"]
        if !protocols.contains(where: tlsProtocols.contains), RecordCheck.isNonEmpty(record["snis"]) {
            errors.append(FieldError(
                path: DocPath.join(path, "snis"),
                message: "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'"))
        }
        func atLeastOne(_ names: [String], _ what: String) {
            if !names.contains(where: { RecordCheck.isNonEmpty(record[$0]) }) {
                errors.append(FieldError(path: path, message: "must set one of \(KongMessage.quoted(names)) when 'protocols' is \(what)"))
            }
        }
        switch subschema {
        case .http?:
            if protocols.contains("https") {
                atLeastOne(["methods", "hosts", "headers", "paths", "snis"], "'https'")
            } else if protocols.contains("http") {
                atLeastOne(["methods", "hosts", "headers", "paths"], "'http'")
            }
        case .stream?:
            if protocols.allSatisfy({ $0 == "tcp" || $0 == "tls" }) {
                atLeastOne(["sources", "destinations", "snis"], "'tcp' or 'tls'")
            }
        case .grpc?:
            if protocols.contains("grpcs") {
                atLeastOne(["hosts", "headers", "paths", "snis"], "'grpcs'")
            } else if protocols.contains("grpc") {
                atLeastOne(["hosts", "headers", "paths"], "'grpc'")
            }
        case nil:
            break
        }
        return errors
    }
}
