import ArgusConfig
import Foundation

extension AdminAPI {
    /// Kong's `before_filter` (`kong/api/api_helpers.lua`): a PUT, POST or PATCH body must be JSON,
    /// a form or multipart (YAML too on `/config`), by the start of its `Content-Type` (case
    /// matters, as in Kong); without one, only an empty body passes. Otherwise 415, with the page
    /// nginx (OpenResty) writes for it.
    static func unsupportedMediaType(_ request: AdminRequest, yamlAllowed: Bool) -> AdminResponse? {
        guard request.method == "PUT" || request.method == "POST" || request.method == "PATCH" else { return nil }
        let type = request.contentType
        if type.isEmpty {
            return request.body.isEmpty ? nil : unsupportedMediaTypePage
        }
        var accepted = ["application/json", "multipart/form-data", "application/x-www-form-urlencoded"]
        if yamlAllowed { accepted += ["application/yaml", "text/yaml"] }
        return accepted.contains(where: { type.hasPrefix($0) }) ? nil : unsupportedMediaTypePage
    }

    static let unsupportedMediaTypePage = AdminResponse(
        status: 415,
        body: Array(
            "<html>\r\n<head><title>415 Unsupported Media Type</title></head>\r\n<body>\r\n<center><h1>415 Unsupported Media Type</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"
                .utf8),
        contentType: "text/html; charset=UTF-8")

    /// `/routes/{r}/service` and the like: the entity `parent` references in `field`, as Kong's
    /// generated foreign-entity endpoints (`kong/api/endpoints.lua`) serve it. GET and PATCH act on
    /// it (404 when there is none); PUT replaces it, or, when the parent references none, creates
    /// one and makes the parent reference it (200 either way); DELETE is refused (405) rather than
    /// leave the parent dangling.
    func foreignEntity(
        _ kind: EntityKind, field: String, of parentKind: EntityKind, _ parent: JSONValue, request: AdminRequest
    ) async -> AdminResponse {
        let reference = parent[field]?["id"]?.stringValue
        switch request.method {
        case "DELETE":
            return reference == nil ? .notFound : .methodNotAllowed(allow: "GET, HEAD, PATCH, PUT")
        case "PUT":
            if let reference { return await entity(kind, reference, request: request, parent: nil) }
            if store.isDeclarative { return AdminErrors.operationUnsupported("create or update", kind.name) }
            let id = UUID().uuidString.lowercased()
            let made = await entity(kind, id, request: request, parent: nil)
            guard made.status == 200, case .object(var fields) = EntityJSON.declarative(parent) else { return made }
            fields[field] = .object(["id": .string(id)])
            let linked = await store.save(parentKind, .object(fields), status: 200, hashPassword: false)
            return linked.status == 200 ? made : linked
        case "GET", "HEAD", "PATCH":
            guard let reference else { return .notFound }
            return await entity(kind, reference, request: request, parent: nil, allowPUT: false)
        default:
            return .methodNotAllowed(allow: "DELETE, GET, HEAD, PATCH, PUT")
        }
    }
}
