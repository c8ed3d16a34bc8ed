import ArgusConfig

/// One entity type as the Admin API addresses it.
struct EntityKind: Sendable, Equatable {
    /// The declarative key and Kong's DAO name: `services`, `keyauth_credentials`…
    var name: String
    /// Its top-level collection path: `services`, `key-auths`…
    var collection: String
    /// The field that addresses an entity besides its id (`name`, `username`, `key`…), if any.
    var endpointKey: String?
    /// Foreign key fields → the entity type they reference.
    var foreignKeys: [String: String]

    static let services = EntityKind(
        name: "services", collection: "services", endpointKey: "name", foreignKeys: ["client_certificate": "certificates"])
    static let routes = EntityKind(name: "routes", collection: "routes", endpointKey: "name", foreignKeys: ["service": "services"])
    static let consumers = EntityKind(name: "consumers", collection: "consumers", endpointKey: "username", foreignKeys: [:])
    static let plugins = EntityKind(
        name: "plugins", collection: "plugins", endpointKey: "instance_name",
        foreignKeys: ["service": "services", "route": "routes", "consumer": "consumers"])
    static let upstreams = EntityKind(
        name: "upstreams", collection: "upstreams", endpointKey: "name", foreignKeys: ["client_certificate": "certificates"])
    static let targets = EntityKind(name: "targets", collection: "targets", endpointKey: "target", foreignKeys: ["upstream": "upstreams"])
    static let keyAuths = EntityKind(
        name: "keyauth_credentials", collection: "key-auths", endpointKey: "key", foreignKeys: ["consumer": "consumers"])
    static let jwts = EntityKind(name: "jwt_secrets", collection: "jwts", endpointKey: "key", foreignKeys: ["consumer": "consumers"])
    static let acls = EntityKind(name: "acls", collection: "acls", endpointKey: "group", foreignKeys: ["consumer": "consumers"])
    static let basicAuths = EntityKind(
        name: "basicauth_credentials", collection: "basic-auths", endpointKey: "username", foreignKeys: ["consumer": "consumers"])

    static let caCertificates = EntityKind(name: "ca_certificates", collection: "ca_certificates", endpointKey: nil, foreignKeys: [:])
    /// Also addressed by one of its SNI names (`/certificates/{id or sni}`, see `AdminAPI+Certificates`).
    static let certificates = EntityKind(name: "certificates", collection: "certificates", endpointKey: nil, foreignKeys: [:])
    static let snis = EntityKind(name: "snis", collection: "snis", endpointKey: "name", foreignKeys: ["certificate": "certificates"])

    static let all: [EntityKind] = [
        services, routes, consumers, plugins, upstreams, targets, keyAuths, jwts, acls, basicAuths, caCertificates, certificates, snis,
    ]

    static func named(_ name: String) -> EntityKind? { all.first { $0.name == name } }

    /// Top-level collections (`/targets` is only reachable under its upstream).
    static func collection(_ segment: String) -> EntityKind? {
        all.first { $0.collection == segment && $0.name != "targets" }
    }

    /// Child collections under a parent entity: `/services/{s}/routes`, `/consumers/{c}/key-auth`…
    /// → the child type and its foreign key to the parent.
    static func nested(parent: EntityKind, segment: String) -> (kind: EntityKind, field: String)? {
        switch (parent.name, segment) {
        case ("services", "routes"): return (routes, "service")
        case ("services", "plugins"): return (plugins, "service")
        case ("routes", "plugins"): return (plugins, "route")
        case ("consumers", "plugins"): return (plugins, "consumer")
        case ("upstreams", "targets"): return (targets, "upstream")
        case ("consumers", "key-auth"), ("consumers", "key-auths"): return (keyAuths, "consumer")
        case ("consumers", "jwt"), ("consumers", "jwts"): return (jwts, "consumer")
        case ("consumers", "acls"): return (acls, "consumer")
        case ("consumers", "basic-auth"), ("consumers", "basic-auths"): return (basicAuths, "consumer")
        case ("certificates", "snis"): return (snis, "certificate")
        default: return nil
        }
    }

    /// What `DELETE` does to entities referencing one of this type: Kong restricts deleting a
    /// service with routes or a certificate services present upstream, and cascades everything else.
    var dependents: [(kind: EntityKind, field: String, restrict: Bool)] {
        EntityKind.all.flatMap { child in
            child.foreignKeys.filter { $0.value == name }.map { field, _ in
                (kind: child, field: field, restrict: (child.name == "routes" && name == "services") || field == "client_certificate")
            }
        }
    }
}
