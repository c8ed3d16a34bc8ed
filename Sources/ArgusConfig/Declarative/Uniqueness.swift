/// Uniqueness as Kong checks it in declarative files (`uniqueness violation: 'services' entity
/// with name set to 'x' already declared`): endpoint keys, primary keys, unique fields; the
/// later declaration is the one reported.
extension DeclarativeBuilder {
    static func uniquenessMessage(_ entity: String, _ field: String, _ value: String) -> String {
        "uniqueness violation: '\(entity)' entity with \(field) set to '\(value)' already declared"
    }

    private func checkUnique<Model>(
        _ entity: String, _ items: [Pending<Model>], id: (Model) -> String, endpointKey: (field: String, value: (Model) -> String?)?,
        uniqueFields: [(field: String, value: (Model) -> String?)] = []
    ) -> Set<Int> {
        var reported = Set<Int>()
        var keys = Set<String>()
        var ids = Set<String>()
        var uniques: [String: Set<String>] = [:]
        for (i, item) in items.enumerated() {
            if let endpointKey, let key = endpointKey.value(item.model) {
                if !keys.insert(key).inserted {
                    issues.add(item.path, Self.uniquenessMessage(entity, endpointKey.field, key), .unique(field: endpointKey.field, value: key))
                    reported.insert(i)
                    continue
                }
            }
            if !ids.insert(id(item.model)).inserted {
                issues.add(item.path, Self.uniquenessMessage(entity, "primary key", id(item.model)), .unique(field: "id", value: id(item.model)))
                reported.insert(i)
                continue
            }
            for unique in uniqueFields {
                guard let value = unique.value(item.model) else { continue }
                if !uniques[unique.field, default: []].insert(value).inserted {
                    issues.add(item.path, Self.uniquenessMessage(entity, unique.field, value), .unique(field: unique.field, value: value))
                    reported.insert(i)
                }
            }
        }
        return reported
    }

    func checkUniqueness() {
        _ = checkUnique("services", services, id: \.id, endpointKey: ("name", \.name))
        _ = checkUnique("routes", routes, id: \.id, endpointKey: ("name", \.name))
        _ = checkUnique("consumers", consumers, id: \.id, endpointKey: ("username", \.username), uniqueFields: [("custom_id", \.customID)])
        _ = checkUnique("upstreams", upstreams, id: \.id, endpointKey: ("name", \.name))
        _ = checkUnique("certificates", certificates, id: \.id, endpointKey: nil)
        _ = checkUnique("snis", snis, id: \.id, endpointKey: ("name", \.name))
        let targetsReported = checkUnique("targets", targets, id: \.id, endpointKey: nil)
        // Kong's cache_key {upstream, target}: one target per host:port in an upstream (a second one
        // would double the backend's share)
        var targetKeys = Set<[String]>()
        for (i, target) in targets.enumerated() where !targetsReported.contains(i) {
            if !targetKeys.insert([target.model.upstreamID, target.model.target]).inserted {
                issues.add(
                    target.path, Self.uniquenessMessage("targets", "target", target.model.target) + " for this upstream",
                    .unique(field: "target", value: target.model.target))
            }
        }
        let pluginsReported = checkUnique("plugins", pluginEntries, id: \.id, endpointKey: ("instance_name", \.instanceName))
        // one instance per (name, route, service, consumer), however the scope was written
        var scopes = Set<[String]>()
        for (i, plugin) in pluginEntries.enumerated() where !pluginsReported.contains(i) {
            let m = plugin.model
            let scope = [m.name, m.routeID ?? "", m.serviceID ?? "", m.consumerID ?? ""]
            if !scopes.insert(scope).inserted {
                issues.add(
                    plugin.path, Self.uniquenessMessage("plugins", "name", m.name) + " for the same route, service and consumer",
                    .unique(field: "name", value: m.name))
            }
        }
        for kind in Self.credentialKinds {
            let indices = credentials.indices.filter { credentials[$0].model.kind == kind }
            let items = indices.map { credentials[$0] }
            let endpoint: (field: String, value: (Credential) -> String?)?
            switch kind {
            case "keyauth_credentials", "jwt_secrets": endpoint = ("key", { $0.fields["key"]?.stringValue })
            case "basicauth_credentials": endpoint = ("username", { $0.fields["username"]?.stringValue })
            default: endpoint = nil
            }
            let reported = checkUnique(kind, items, id: \.id, endpointKey: endpoint)
            if kind == "acls" {
                var pairs = Set<[String]>()
                for (i, item) in items.enumerated() where !reported.contains(i) {
                    let group = item.model.fields["group"]?.stringValue ?? ""
                    if !pairs.insert([item.model.consumerID, group]).inserted {
                        issues.add(
                            item.path, Self.uniquenessMessage("acls", "group", group) + " for this consumer",
                            .unique(field: "group", value: group))
                    }
                }
            }
        }
    }
}
