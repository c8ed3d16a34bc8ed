/// Reading one entity mapping: its fields, nested children and references.
extension DeclarativeBuilder {
    /// Splits an entity mapping. `foreign` maps foreign key fields to the entity they reference.
    /// A nested entity must not name its parent itself (`value must be null`).
    func readEntity(
        _ node: DocNode, path: String, children: [String] = [], foreign: [String: String] = [:], parent: ParentLink?
    ) -> EntityInput? {
        guard node.objectEntries != nil else {
            issues.add(path, KongMessage.record)
            return nil
        }
        var input = EntityInput(path: path)
        checkExtraAttributes(node, path: path)
        for (key, value) in node.uniqueEntries {
            if key == "_comment" || key == "_ignore" { continue }
            if children.contains(key) {
                input.children.append((key: key, node: value))
            } else if let entity = foreign[key] {
                if value.isNull { continue }
                let fieldPath = DocPath.join(path, key)
                if parent?.field == key {
                    issues.add(fieldPath, KongMessage.mustBeNull)
                } else if let reference = reference(value, path: fieldPath) {
                    input.references[key] = PendingReference(
                        field: key, entity: entity, reference: reference, written: value.json, path: fieldPath)
                }
            } else {
                input.fields[key] = value.json
            }
        }
        if let parent {
            input.references[parent.field] = PendingReference(
                field: parent.field, entity: parent.entity, reference: .parent(parent.id), written: .string(parent.id),
                path: path)
        }
        return input
    }

    /// `service: name-or-id`, `service: {id: …}` or `service: {name: …}`.
    private func reference(_ node: DocNode, path: String) -> Reference? {
        switch node.value {
        case .string(let s):
            return .key(s)
        case .object:
            var result: Reference?
            for (key, value) in node.uniqueEntries {
                let keyPath = DocPath.join(path, key)
                switch key {
                case "id":
                    guard let id = value.stringValue else {
                        issues.add(keyPath, KongMessage.string)
                        continue
                    }
                    guard NameRules.isUUID(id) else {
                        issues.add(keyPath, KongMessage.uuid)
                        continue
                    }
                    result = .id(id.lowercased())
                case "name":
                    guard let name = value.stringValue else {
                        issues.add(keyPath, KongMessage.string)
                        continue
                    }
                    if result == nil { result = .name(name) }
                default:
                    issues.add(keyPath, KongMessage.unknown)
                }
            }
            if result == nil, node["id"] == nil, node["name"] == nil {
                issues.add(DocPath.join(path, "id"), KongMessage.required)
            }
            return result
        default:
            issues.add(path, KongMessage.string)
            return nil
        }
    }

    /// Validates the plain fields against `fields` (+ record checks) and reports the errors.
    func validateFields(_ input: EntityInput, _ fields: [SchemaField], checks: [RecordCheck] = []) -> [String: JSONValue] {
        var errors: [FieldError] = []
        let out = SchemaValidator.validateRecord(input.fields, fields, path: input.path, errors: &errors)
        if errors.isEmpty {
            for check in checks { errors.append(contentsOf: check.run(out, input.path)) }
        }
        issues.add(errors)
        return out
    }

    /// The given id (lower-cased) or a deterministic one (see `EntityIDs`).
    func entityID(_ fields: [String: JSONValue], entity: String, key: String?, path: String) -> String {
        if let id = fields["id"]?.stringValue, NameRules.isUUID(id) { return id.lowercased() }
        return EntityIDs.generate(entity: entity, key: key ?? EntityIDs.fallbackKey(path: path))
    }

    /// `created_at` / `updated_at` as given, else the load time.
    func timestamp(_ fields: [String: JSONValue], _ name: String) -> Int {
        fields[name]?.intValue ?? nowSeconds
    }

    /// The cache-key part of a reference field: the reference, or empty when unset.
    func cacheKeyPart(_ input: EntityInput, _ field: String) -> String {
        input.references[field]?.reference.cacheKeyPart ?? ""
    }
}
