/// Reads a whole declarative document: the top-level keys, every entity (nested or not), then
/// resolves references, checks uniqueness and assembles the `DeclarativeConfig`.
final class DeclarativeBuilder {
    static let formatVersions = ["1.1", "2.1", "3.0"]
    static let credentialKinds = ["keyauth_credentials", "jwt_secrets", "acls", "basicauth_credentials"]
    /// Entity arrays Kong accepts that Argus does not implement: fine when empty.
    static let unsupportedKinds = ["vaults"]
    static let metaKeys = ["_format_version", "_transform", "_comment", "_ignore"]

    let issues = Issues()
    let nowSeconds: Int
    let nowTargetSeconds: Double
    let plugins: [String: PluginSchema]
    private(set) var transform = true

    var services: [Pending<Service>] = []
    var routes: [Pending<Route>] = []
    var consumers: [Pending<Consumer>] = []
    var pluginEntries: [Pending<Plugin>] = []
    var upstreams: [Pending<Upstream>] = []
    var targets: [Pending<Target>] = []
    var credentials: [Pending<Credential>] = []
    var caCertificates: [Pending<CACertificate>] = []
    var certificates: [Pending<Certificate>] = []
    var snis: [Pending<SNI>] = []

    init(now: Double, plugins: [String: PluginSchema]) {
        self.nowSeconds = Int(now)
        self.nowTargetSeconds = (now * 1000).rounded(.down) / 1000
        self.plugins = plugins
    }

    /// nil when the document has errors (see `issues`).
    func build(_ document: DocNode) -> DeclarativeConfig? {
        guard document.objectEntries != nil else {
            issues.add("", "failed parsing declarative configuration: expected an object")
            return nil
        }
        let legacy = readMetaKeys(document)
        let root = legacy ? FormatMigration.migrate(document) : document
        for kind in ["ca_certificates", "certificates", "snis", "services", "routes", "consumers", "upstreams", "targets", "plugins"] + Self.credentialKinds {
            forEachItem(of: root[kind], path: kind) { node, path in
                decode(kind: kind, node, path: path, parent: nil)
            }
        }
        for kind in Self.unsupportedKinds {
            guard let node = root[kind], !node.isNull else { continue }
            guard let items = node.arrayItems else {
                issues.add(kind, KongMessage.array)
                continue
            }
            if !items.isEmpty { issues.add(kind, "Argus does not support '\(kind)' entities yet") }
        }
        resolveReferences()
        checkUniqueness()
        guard issues.isEmpty else { return nil }
        return assemble()
    }

    /// Validates `_format_version`, `_transform`, `_comment`, `_ignore` and rejects unknown keys.
    /// Returns whether the file is in a legacy format (1.1/2.1) that needs migrating.
    private func readMetaKeys(_ root: DocNode) -> Bool {
        var legacy = false
        switch root["_format_version"]?.value {
        case nil, .null?:
            issues.add("_format_version", KongMessage.required)
        case .string(let version)?:
            if !Self.formatVersions.contains(version) {
                issues.add("_format_version", KongMessage.oneOf(Self.formatVersions.map(JSONValue.string)))
            }
            legacy = version == "1.1" || version == "2.1"
        default:
            issues.add("_format_version", KongMessage.string)
        }
        switch root["_transform"]?.value {
        case nil, .null?: break
        case .bool(let b)?: transform = b
        default: issues.add("_transform", KongMessage.boolean)
        }
        checkExtraAttributes(root, path: "")
        let known = Set(Self.metaKeys + ["ca_certificates", "certificates", "snis", "services", "routes", "consumers", "upstreams", "targets", "plugins"]
            + Self.credentialKinds + Self.unsupportedKinds)
        for entry in root.uniqueEntries where !known.contains(entry.key) {
            issues.add(entry.key, KongMessage.unknown)
        }
        return legacy
    }

    /// `_comment` (a string) and `_ignore` (an array), accepted on the document and on every entity.
    func checkExtraAttributes(_ node: DocNode, path: String) {
        if let comment = node["_comment"], !comment.isNull, comment.stringValue == nil {
            issues.add(DocPath.join(path, "_comment"), KongMessage.string)
        }
        if let ignore = node["_ignore"], !ignore.isNull, ignore.arrayItems == nil {
            issues.add(DocPath.join(path, "_ignore"), KongMessage.array)
        }
    }

    /// Calls `body` for each item of an entity array (`expected an array` otherwise; null is empty).
    func forEachItem(of node: DocNode?, path: String, _ body: (DocNode, String) -> Void) {
        guard let node, !node.isNull else { return }
        guard let items = node.arrayItems else {
            issues.add(path, KongMessage.array)
            return
        }
        for (i, item) in items.enumerated() { body(item, DocPath.join(path, index: i)) }
    }

    func decode(kind: String, _ node: DocNode, path: String, parent: ParentLink?) {
        switch kind {
        case "services": decodeService(node, path: path)
        case "routes": decodeRoute(node, path: path, parent: parent)
        case "consumers": decodeConsumer(node, path: path)
        case "upstreams": decodeUpstream(node, path: path)
        case "targets": decodeTarget(node, path: path, parent: parent)
        case "plugins": decodePlugin(node, path: path, parent: parent)
        case "ca_certificates": decodeCACertificate(node, path: path)
        case "certificates": decodeCertificate(node, path: path)
        case "snis": decodeSNI(node, path: path, parent: parent)
        default: decodeCredential(kind: kind, node, path: path, parent: parent)
        }
    }

    /// Decodes the nested entity arrays of an entity that was just read.
    func decodeChildren(_ input: EntityInput, parent: ParentLink) {
        for (key, node) in input.children {
            forEachItem(of: node, path: DocPath.join(input.path, key)) { item, path in
                decode(kind: key, item, path: path, parent: parent)
            }
        }
    }

    private func assemble() -> DeclarativeConfig {
        DeclarativeConfig(
            formatVersion: "3.0",
            services: services.map(\.model), routes: routes.map(\.model), consumers: consumers.map(\.model),
            plugins: pluginEntries.map(\.model), upstreams: upstreams.map(\.model), targets: targets.map(\.model),
            credentials: credentials.map(\.model), caCertificates: caCertificates.map(\.model),
            certificates: certificates.map(\.model), snis: snis.map(\.model))
    }
}
