import Foundation

/// Declarative files used by the tests, kept in Swift so the test target needs no resources.
enum Fixtures {
    /// Every entity kind, nested forms, `url` shorthand, a plugin with config.
    static let nested = """
        _format_version: "3.0"
        _comment: the reference example
        services:
          - name: orders
            url: http://orders.internal:8080/v1
            retries: 3
            tags: [team-a, team-a, orders]
            routes:
              - name: orders-route
                paths: ["/orders", "~/orders/(?<id>\\\\d+)$"]
                methods: [GET, POST]
                headers:
                  X-Version: ["1", "2"]
                plugins:
                  - name: rate-limiting
                    config: { minute: 60, policy: local }
            plugins:
              - name: key-auth
          - name: secure
            url: https://secure.internal
        consumers:
          - username: alice
            custom_id: c-1
            keyauth_credentials: [{ key: alice-key }]
            jwt_secrets: [{ key: alice-iss, secret: s3cr3t, algorithm: HS256 }]
            acls: [{ group: gold }]
            basicauth_credentials: [{ username: alice, password: pw }]
          - custom_id: c-2
        upstreams:
          - name: orders.internal
            targets:
              - { target: "10.0.0.1:8080", weight: 100 }
              - { target: "10.0.0.2", weight: 50 }
              - { target: "[::1]:9000" }
        plugins:
          - name: rate-limiting
            config: { second: 5 }
        """

    /// The same configuration, written with top-level entities and references.
    static let topLevel = """
        _format_version: "3.0"
        services:
          - name: orders
            protocol: http
            host: orders.internal
            port: 8080
            path: /v1
            retries: 3
            tags: [team-a, orders]
          - name: secure
            url: https://secure.internal
        routes:
          - name: orders-route
            service: orders
            paths: ["/orders", "~/orders/(?<id>\\\\d+)$"]
            methods: [GET, POST]
            headers:
              x-version: ["1", "2"]
        consumers:
          - username: alice
            custom_id: c-1
          - custom_id: c-2
        keyauth_credentials:
          - { consumer: alice, key: alice-key }
        jwt_secrets:
          - { consumer: alice, key: alice-iss, secret: s3cr3t, algorithm: HS256 }
        acls:
          - { consumer: alice, group: gold }
        basicauth_credentials:
          - { consumer: alice, username: alice, password: pw }
        upstreams:
          - name: orders.internal
        targets:
          - { upstream: orders.internal, target: "10.0.0.1:8080", weight: 100 }
          - { upstream: orders.internal, target: "10.0.0.2", weight: 50 }
          - { upstream: orders.internal, target: "[::1]:9000" }
        plugins:
          - name: rate-limiting
            route: orders-route
            config: { minute: 60, policy: local }
          - name: key-auth
            service: orders
          - name: rate-limiting
            config: { second: 5 }
        """

    /// A small YAML file and its JSON twin.
    static let smallYAML = """
        _format_version: "3.0"
        services:
          - name: api
            host: api.internal
            port: 9000
            routes:
              - name: api-route
                hosts: ["example.com", "*.example.org"]
                strip_path: false
        upstreams:
          - name: api.internal
            algorithm: least-connections
            healthchecks:
              active:
                healthy: { interval: 5 }
        """

    static let smallJSON = """
        {
          "_format_version": "3.0",
          "services": [
            {
              "name": "api",
              "host": "api.internal",
              "port": 9000,
              "routes": [
                { "name": "api-route", "hosts": ["example.com", "*.example.org"], "strip_path": false }
              ]
            }
          ],
          "upstreams": [
            { "name": "api.internal", "algorithm": "least-connections",
              "healthchecks": { "active": { "healthy": { "interval": 5 } } } }
          ]
        }
        """
}
