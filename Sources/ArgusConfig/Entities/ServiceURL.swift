/// The `url` shorthand of a Service, parsed as LuaSocket's `url.parse` does and expanded as
/// Kong's services schema does: scheme → protocol (else http, or https when the port is 443),
/// port defaults to 80 for http and 443 for https, query and fragment dropped.
enum ServiceURL {
    static func expand(_ url: String) -> [String: JSONValue] {
        var rest = Substring(url)
        var scheme: String?
        if let colon = rest.firstIndex(of: ":"), let first = rest.first, first.isASCIILetterOrDigit,
           rest[..<colon].allSatisfy({ $0.isASCIILetterOrDigit || "+-.".contains($0) }) {
            scheme = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        var authority: Substring?
        if rest.hasPrefix("//") {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(where: { "/?#".contains($0) }) ?? afterSlashes.endIndex
            authority = afterSlashes[..<end]
            rest = afterSlashes[end...]
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        if let params = rest.firstIndex(of: ";") { rest = rest[..<params] }
        let path: String? = rest.isEmpty ? nil : String(rest)

        var host: String?
        var portText: String?
        if var authority {
            if let at = authority.firstIndex(of: "@") { authority = authority[authority.index(after: at)...] }
            if let colon = authority.lastIndex(of: ":"), !authority[authority.index(after: colon)...].contains("]") {
                portText = String(authority[authority.index(after: colon)...])
                authority = authority[..<colon]
            }
            if !authority.isEmpty {
                if authority.hasPrefix("["), authority.hasSuffix("]"), authority.count > 2 {
                    host = String(authority.dropFirst().dropLast())
                } else {
                    host = String(authority)
                }
            }
        }
        let port = portText.flatMap { Int($0) }
        let implied: String? = port == 80 ? "http" : port == 443 ? "https" : nil
        let proto = scheme ?? implied ?? "http"
        let portValue: JSONValue
        if let port {
            portValue = .int(port)
        } else if let portText {
            portValue = .string(portText)
        } else {
            portValue = .int(proto == "https" ? 443 : 80)
        }
        return [
            "protocol": .string(proto), "host": host.map(JSONValue.string) ?? .null, "port": portValue,
            "path": path.map(JSONValue.string) ?? .null,
        ]
    }
}
