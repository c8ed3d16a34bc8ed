import ArgusConfig
import ArgusHTTP

/// `multipart/form-data` Admin API bodies as name/value pairs (`MultipartBody` reads the parts):
/// a part typed `application/json` is decoded as JSON, as Kong does; others are text.
enum MultipartParser {
    enum Failure: Error { case malformed(String) }

    static func boundary(contentType: String) -> String? {
        MultipartBody.boundary(contentType: contentType)
    }

    static func pairs(_ body: [UInt8], boundary: String) throws(Failure) -> [(name: String, value: JSONValue)] {
        guard let parts = MultipartBody.parse(body, boundary: boundary) else { throw .malformed("malformed multipart body") }
        return parts.filter { !$0.name.isEmpty }.map { part in
            let text = String(decoding: part.content, as: UTF8.self)
            if part.header("content-type")?.lowercased().hasPrefix("application/json") == true,
               let value = try? ConfigLoader.parseValue(text: text) {
                return (part.name, value)
            }
            return (part.name, .string(text))
        }
    }
}
