/// Deterministic ids for entities declared without one, as Kong's declarative loader generates them
/// (`kong/db/schema/others/declarative_config.lua`): the namespace of an entity type is
/// `uuid5("fd02801f-0957-4a15-a55a-c8d9606f30b5", "<entity>")`, and the id is
/// `uuid5(namespace, key)` where the key is, as in Kong:
///  * entities with a cache key: `<entity>:*:<part>:<part>…` — plugins
///    `plugins:*:<name>:<route>:<service>:<consumer>`, targets `targets:*:<upstream>:<target>`,
///    acls `acls:*:<consumer>:<group>`, basicauth `basicauth_credentials:*:<username>`; a part is the
///    parent's id when nested, the reference as written at top level, or empty when unset;
///  * otherwise the endpoint key: service/route/upstream `name`, consumer `username`.
/// Where Kong falls back to a random id (no name, no username, key-auth/jwt keys), Argus keeps ids
/// stable across reloads with its own key instead: `argus:custom_id:<custom_id>` for consumers that
/// only have a custom_id, `argus:<path in the file>` (e.g. `argus:services[0].routes[1]`) otherwise.
enum EntityIDs {
    static let entitiesNamespace = "fd02801f-0957-4a15-a55a-c8d9606f30b5"

    static func generate(entity: String, key: String) -> String {
        UUIDv5.make(namespace: UUIDv5.make(namespace: entitiesNamespace, name: entity), name: key)
    }

    /// A Kong cache key: `entity:*:part1:part2…`.
    static func cacheKey(_ entity: String, _ parts: [String]) -> String {
        ([entity, "*"] + parts).joined(separator: ":")
    }

    /// Argus's fallback key for entities Kong would give a random id.
    static func fallbackKey(path: String) -> String { "argus:\(path)" }
}
