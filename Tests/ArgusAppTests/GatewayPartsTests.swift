import ArgusConfig
import Testing

@testable import ArgusApp

@Suite struct SnapshotBuilderNamesTests {
    /// DNS keeps resolved: upstream targets' and services' host names, never an upstream's own
    /// name (that is the balancer, not a host) nor an IP address.
    @Test func theNamesToResolveAreTargetAndServiceHostsThatAreNames() throws {
        let config = try ConfigLoader.parse(text: """
            _format_version: "3.0"
            services:
              - {name: balanced, host: pool}
              - {name: named, url: "http://api.example.test:8080"}
              - {name: address, url: "http://10.0.0.9"}
              - {name: v6, url: "http://[::1]:81"}
            upstreams:
              - name: pool
                targets:
                  - {target: "web.example.test:80"}
                  - {target: "10.0.0.1:80"}
            """, file: "kong.yml")
        #expect(SnapshotBuilder.names(config) == ["api.example.test", "web.example.test"])
    }
}

@Suite struct AdminTokenTests {
    func request(authorization: String = "", adminToken: String = "") -> ControlRequest {
        ControlRequest(method: "GET", path: "/", query: "", acceptEncoding: "", authorization: authorization, adminToken: adminToken)
    }

    @Test func aBearerTokenOrKongAdminTokenIsAccepted() {
        #expect(Gateway.authorized(request(authorization: "Bearer s3cret"), token: "s3cret"))
        #expect(Gateway.authorized(request(authorization: "bearer  s3cret "), token: "s3cret"))
        #expect(Gateway.authorized(request(adminToken: "s3cret"), token: "s3cret"))
    }

    @Test func anythingElseIsRefused() {
        #expect(!Gateway.authorized(request(), token: "s3cret"))
        #expect(!Gateway.authorized(request(authorization: "Bearer s3cre"), token: "s3cret"))
        #expect(!Gateway.authorized(request(authorization: "Bearer s3cretX"), token: "s3cret"))
        #expect(!Gateway.authorized(request(adminToken: "S3CRET"), token: "s3cret"))
        #expect(!Gateway.authorized(request(authorization: "Basic s3cret"), token: "s3cret"))
    }
}
