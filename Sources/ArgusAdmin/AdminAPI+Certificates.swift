import ArgusConfig
import ArgusHTTP
import Foundation

/// `/certificates` as Kong serves it (`kong/api/routes/certificates.lua`, `kong/db/dao/certificates.lua`):
/// a certificate is addressed by its id or by one of its SNI names, carries its names as a sorted
/// `snis` list, and a write may replace that list (names new to it are created, the others deleted).
extension AdminAPI {
    func certificates(_ request: AdminRequest, segments: [String]) async -> AdminResponse? {
        if segments.count == 1 {
            switch request.method {
            case "POST": return await writeCertificate(request, id: nil, urlName: nil, existing: nil)
            default: return nil  // the generic collection lists them
            }
        }
        // `/certificates/{id or sni}[/snis[/{sni}]]`
        let allowed = segments.count == 3 ? ["GET", "HEAD", "POST"] : ["GET", "HEAD", "PATCH", "PUT", "DELETE"]
        guard allowed.contains(request.method) else { return .methodNotAllowed(allow: allowed.joined(separator: ", ")) }
        let reference = segments[1]
        var id = reference.lowercased()
        var urlName: String?
        if !EntityStore.isUUID(reference) {
            if let problem = CertificateRules.validateWildcardHostName(reference) {
                return .coded(400, code: 10, name: "invalid unique name", message: problem)
            }
            if let sni = await store.find(.snis, reference), let certificate = sni["certificate"]?["id"]?.stringValue {
                id = certificate
            } else if request.method == "PUT" && segments.count == 2 {
                id = UUID().uuidString.lowercased()
            } else {
                return .message(404, "SNI not found")
            }
            urlName = reference
        }
        if segments.count > 2 || request.method == "DELETE" {
            // the generic handlers (nested SNIs, a cascading delete), under the certificate's id
            return urlName == nil ? nil : await respond(request.replacingSegment(1, with: id))
        }
        let existing = await store.find(.certificates, id)
        switch request.method {
        case "GET", "HEAD":
            guard let existing else { return Self.certificateNotFound(id) }
            return .json(200, existing)
        case "PUT", "PATCH":
            if request.method == "PATCH" && existing == nil { return Self.certificateNotFound(id) }
            return await writeCertificate(request, id: id, urlName: request.method == "PUT" ? urlName : nil, existing: existing)
        default:
            return .methodNotAllowed(allow: "GET, HEAD, PATCH, PUT, DELETE")
        }
    }

    static func certificateNotFound(_ id: String) -> AdminResponse {
        .coded(404, code: 6, name: "not found", message: "could not find the entity with primary key '{id=\"\(id)\"}'",
               fields: .object(["id": .string(id)]))
    }

    /// POST (`id` nil), PUT or PATCH of a certificate with Kong's handling of `snis`.
    private func writeCertificate(_ request: AdminRequest, id: String?, urlName: String?, existing: JSONValue?) async -> AdminResponse {
        if store.isDeclarative {
            return AdminErrors.operationUnsupported(id == nil ? "create" : request.method == "PATCH" ? "update" : "create or update", "certificates")
        }
        let body: AdminBody
        do { body = try decodeBody(request) } catch { return error.response }
        guard case .object(var fields) = input(body, kind: .certificates, existing: existing) else {
            return .message(400, "Cannot parse JSON body: expected an object")
        }
        // snis: absent keeps the names (PATCH), null or [] removes them; PUT always sets them
        var names: [String]?
        var listGiven = false
        switch fields.removeValue(forKey: "snis") {
        case nil: names = request.method == "PUT" ? [] : nil
        case .null?: names = []
        case .array(let items)?:
            names = items.compactMap(\.stringValue)
            listGiven = true
        case .string(let name)?:
            names = [name]
            listGiven = true
        default: return AdminErrors.schemaViolation([(path: "snis", message: "expected an array")])
        }
        // PUT by a name adds it to the names given (without `snis` Kong removes them all, that one too)
        if let urlName, listGiven, names?.contains(urlName) == false { names?.append(urlName) }
        if let list = names {
            var seen = Set<String>()
            for name in list {
                if let problem = CertificateRules.validateWildcardHostName(name) {
                    return .coded(400, code: 10, name: "invalid unique name", message: problem)
                }
                if !seen.insert(name).inserted { return AdminErrors.schemaViolation([(path: "snis", message: "\(name) is duplicated")]) }
            }
            for name in list {
                if let other = await store.find(.snis, name)?["certificate"]?["id"]?.stringValue, other != id {
                    return AdminErrors.schemaViolation([(path: "snis", message: "\(name) already associated with existing certificate '\(other)'")])
                }
            }
        }
        var record: [String: JSONValue]
        if request.method == "PATCH", case .object(let current)? = existing.map(EntityJSON.declarative) {
            record = Self.merge(current, fields)
        } else {
            record = fields
        }
        let certificateID = id ?? (fields["id"]?.stringValue.map { $0.lowercased() } ?? UUID().uuidString.lowercased())
        if id == nil, await store.find(.certificates, certificateID) != nil { return AdminErrors.primaryKey(certificateID) }
        record["id"] = .string(certificateID)
        let now = Int(clockNow())
        record["created_at"] = existing?["created_at"] ?? .int(now)
        record["updated_at"] = .int(now)
        return await store.saveCertificate(record, snis: names, status: id == nil ? 201 : 200, now: now)
    }
}

extension AdminRequest {
    /// The same request with one path segment replaced (an SNI name resolved to its certificate's id).
    func replacingSegment(_ index: Int, with value: String) -> AdminRequest {
        var copy = self
        var parts = segments
        parts[index] = value
        copy.path = "/" + parts.map { PercentEncoding.encode($0) }.joined(separator: "/")
        return copy
    }
}
