import ArgusConfig

/// A request body decoded by its content type, as Kong's Admin API reads it: JSON,
/// `application/x-www-form-urlencoded` or `multipart/form-data`. `isForm` says whether the
/// values are form strings that still need `FormInference`.
struct AdminBody {
    var value: JSONValue
    var isForm: Bool

    static let empty = AdminBody(value: .object([:]), isForm: false)

    enum Failure: Error {
        /// Kong answers an unparsable JSON body with 400 `Cannot parse JSON body`.
        case badJSON
        case badMultipart(String)
        case notAnObject
    }

    static func decode(_ bytes: [UInt8], contentType: String) throws(Failure) -> AdminBody {
        let type = contentType.split(separator: ";").first.map { $0.trimmed(of: " \t").lowercased() } ?? ""
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .empty }
        switch type {
        case "application/x-www-form-urlencoded":
            return AdminBody(value: FormDecoder.decode(FormDecoder.urlEncodedPairs(bytes)), isForm: true)
        case "multipart/form-data":
            guard let boundary = MultipartParser.boundary(contentType: contentType) else {
                throw .badMultipart("multipart body without a boundary")
            }
            do {
                return AdminBody(value: FormDecoder.decode(try MultipartParser.pairs(bytes, boundary: boundary)), isForm: true)
            } catch {
                guard case .malformed(let reason) = error else { throw .badMultipart("malformed multipart body") }
                throw .badMultipart(reason)
            }
        default:
            // JSON (curl's `-d '{…}'` without a content type too, when it parses as an object)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw .badJSON }
            let trimmed = text.trimmed(of: " \t\r\n")
            guard trimmed.hasPrefix("{") || trimmed.hasPrefix("[") else {
                if type == "application/json" { throw .badJSON }
                return AdminBody(value: FormDecoder.decode(FormDecoder.urlEncodedPairs(bytes)), isForm: true)
            }
            guard let value = try? ConfigLoader.parseValue(text: text) else { throw .badJSON }
            guard case .object = value else { throw .notAnObject }
            return AdminBody(value: value, isForm: false)
        }
    }
}
