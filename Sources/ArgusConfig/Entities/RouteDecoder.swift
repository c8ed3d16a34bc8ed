/// Routes (kong-compat §1.2), nested under a service or at top level with `service: …`.
extension DeclarativeBuilder {
    func decodeRoute(_ node: DocNode, path: String, parent: ParentLink?) {
        guard let input = readEntity(node, path: path, children: ["plugins"], foreign: ["service": "services"], parent: parent)
        else { return }
        var errors: [FieldError] = []
        var fields = SchemaValidator.validateRecord(input.fields, RouteValidator.fields, path: path, errors: &errors)
        let subschema = RouteValidator.subschema(CommonFields.strings(fields["protocols"]) ?? ["http"])
        if fields["strip_path"]?.isNull ?? false {
            errors.append(FieldError(path: DocPath.join(path, "strip_path"), message: KongMessage.required))
        } else if fields["strip_path"] == nil {
            fields["strip_path"] = .bool(subschema != .grpc)  // the grpc subschema defaults it to false
        }
        errors.append(contentsOf: RouteValidator.forbiddenFields(subschema, fields, path: path))
        if errors.isEmpty { errors.append(contentsOf: RouteValidator.entityChecks(subschema, fields, path: path)) }
        issues.add(errors)

        var headers: [String: [String]]?
        if case .object(let map)? = fields["headers"] {
            var merged: [String: [String]] = [:]
            for name in map.keys.sorted() {
                let key = name.lowercased()
                for value in CommonFields.strings(map[name]) ?? [] where !(merged[key]?.contains(value) ?? false) {
                    merged[key, default: []].append(value)
                }
                if merged[key] == nil { merged[key] = [] }
            }
            headers = merged
        }
        let name = fields["name"]?.stringValue
        let id = entityID(fields, entity: "routes", key: name, path: path)
        let route = Route(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"), name: name,
            protocols: CommonFields.strings(fields["protocols"]) ?? ["http", "https"],
            methods: CommonFields.strings(fields["methods"]), hosts: CommonFields.strings(fields["hosts"]),
            paths: CommonFields.strings(fields["paths"]), headers: headers, snis: CommonFields.strings(fields["snis"]),
            stripPath: fields["strip_path"]?.boolValue ?? true, preserveHost: fields["preserve_host"]?.boolValue ?? false,
            regexPriority: fields["regex_priority"]?.intValue ?? 0,
            pathHandling: fields["path_handling"]?.stringValue ?? "v0",
            httpsRedirectStatusCode: fields["https_redirect_status_code"]?.intValue ?? 426,
            requestBuffering: fields["request_buffering"]?.boolValue ?? true,
            responseBuffering: fields["response_buffering"]?.boolValue ?? true,
            tags: CommonFields.strings(fields["tags"]))
        routes.append(Pending(model: route, path: path, references: input.references))
        decodeChildren(input, parent: ParentLink(field: "route", entity: "routes", id: id))
    }
}
