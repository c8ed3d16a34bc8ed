import Crypto

/// Resolves foreign keys (by endpoint key first, then id, as Kong's `find_entity`) and reports
/// dangling ones in Kong's words: `invalid reference 'service: x' (no such entry in 'services')`.
extension DeclarativeBuilder {
    /// For each entity type: endpoint key → id and the set of ids (first declaration wins).
    struct Index {
        var byKey: [String: String] = [:]
        var ids: Set<String> = []

        mutating func add(id: String, key: String?) {
            ids.insert(id)
            if let key, byKey[key] == nil { byKey[key] = id }
        }

        func find(_ reference: Reference) -> String? {
            switch reference {
            case .parent(let id): return id
            case .key(let value), .id(let value): return byKey[value] ?? (ids.contains(value.lowercased()) ? value.lowercased() : nil)
            case .name(let name): return byKey[name]
            }
        }
    }

    func buildIndexes() -> [String: Index] {
        var indexes: [String: Index] = [:]
        for s in services { indexes["services", default: Index()].add(id: s.model.id, key: s.model.name) }
        for r in routes { indexes["routes", default: Index()].add(id: r.model.id, key: r.model.name) }
        for c in consumers { indexes["consumers", default: Index()].add(id: c.model.id, key: c.model.username) }
        for u in upstreams { indexes["upstreams", default: Index()].add(id: u.model.id, key: u.model.name) }
        for c in certificates { indexes["certificates", default: Index()].add(id: c.model.id, key: nil) }
        return indexes
    }

    func resolveReferences() {
        let indexes = buildIndexes()
        func resolve(_ pending: [String: PendingReference], _ field: String) -> String? {
            guard let ref = pending[field] else { return nil }
            if let id = (indexes[ref.entity] ?? Index()).find(ref.reference) { return id }
            let written = ref.written.stringValue ?? JSONText.encode(ref.written)
            issues.add(
                ref.path, "invalid reference '\(ref.field): \(written)' (no such entry in '\(ref.entity)')",
                .reference(entity: ref.entity, written: written))
            return nil
        }
        for i in services.indices { services[i].model.clientCertificateID = resolve(services[i].references, "client_certificate") }
        for i in snis.indices { snis[i].model.certificateID = resolve(snis[i].references, "certificate") ?? "" }
        // A service's ca_certificates name CA certificates of this configuration, by id.
        let caIDs = Set(caCertificates.map(\.model.id))
        for service in services {
            for (k, id) in (service.model.caCertificates ?? []).enumerated() where !caIDs.contains(id) {
                issues.add(
                    DocPath.join(DocPath.join(service.path, "ca_certificates"), index: k),
                    "invalid reference 'ca_certificates: \(id)' (no such entry in 'ca_certificates')",
                    .reference(entity: "ca_certificates", written: id))
            }
        }
        for i in upstreams.indices { upstreams[i].model.clientCertificateID = resolve(upstreams[i].references, "client_certificate") }
        for i in routes.indices { routes[i].model.serviceID = resolve(routes[i].references, "service") }
        for i in pluginEntries.indices {
            let refs = pluginEntries[i].references
            pluginEntries[i].model.serviceID = resolve(refs, "service")
            pluginEntries[i].model.routeID = resolve(refs, "route")
            pluginEntries[i].model.consumerID = resolve(refs, "consumer")
        }
        for i in targets.indices { targets[i].model.upstreamID = resolve(targets[i].references, "upstream") ?? "" }
        for i in credentials.indices {
            let consumerID = resolve(credentials[i].references, "consumer") ?? ""
            credentials[i].model.consumerID = consumerID
            // `_transform` (default true): basic-auth passwords are stored hashed, sha1(password .. consumer id)
            if transform, credentials[i].model.kind == "basicauth_credentials",
               let password = credentials[i].model.fields["password"]?.stringValue {
                let digest = Insecure.SHA1.hash(data: Array((password + consumerID).utf8))
                credentials[i].model.fields["password"] = .string(digest.hexString)
            }
        }
    }
}
