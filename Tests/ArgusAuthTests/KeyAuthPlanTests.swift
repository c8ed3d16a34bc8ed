import ArgusConfig
import ArgusHTTP
import ArgusPluginKit
import NIOCore
import Testing
@testable import ArgusAuth

/// key-auth's key names as Kong reads them: as header names `_` and `-` are one (nginx's
/// `$http_api_key` is the header `api-key`).
@Suite struct KeyAuthPlanTests {
    static let config = try! ConfigLoader.parse(text: """
        _format_version: "3.0"
        consumers:
          - username: alice
            keyauth_credentials: [{key: k1}]
        """, file: "k.yml")

    func outcome(_ keyNames: String, _ raw: String) throws -> AuthOutcome {
        let plan = KeyAuthPlan(config: try #require(try ConfigLoader.parseValue(text: "{key_names: \(keyNames)}")))
        var parser = RequestHeadParser()
        var bytes = ByteBuffer(string: raw)
        guard case .head(let head) = parser.parse(&bytes) else { throw ParseError() }
        var edits = CredentialEdits()
        return plan.authenticate(head, directory: ConsumerDirectory(config: Self.config), alreadyAuthenticated: false, edits: &edits)
    }

    struct ParseError: Error {}

    @Test func underscoreAndDashAreOneInHeaderNames() throws {
        guard case .authenticated = try outcome("[api_key]", "GET / HTTP/1.1\r\nHost: x\r\nApi-Key: k1\r\n\r\n") else {
            Issue.record("api_key did not find the Api-Key header")
            return
        }
        guard case .authenticated = try outcome("[api-key]", "GET / HTTP/1.1\r\nHost: x\r\napi-key: k1\r\n\r\n") else {
            Issue.record("api-key did not find the api-key header")
            return
        }
        // the query keeps the name as written
        guard case .authenticated = try outcome("[api_key]", "GET /?api_key=k1 HTTP/1.1\r\nHost: x\r\n\r\n") else {
            Issue.record("api_key did not find the query argument")
            return
        }
    }
}
