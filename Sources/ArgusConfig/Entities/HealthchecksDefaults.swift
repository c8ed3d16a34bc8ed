/// The upstream `healthchecks` record (kong-compat §1.5, `upstreams.lua`): every field with Kong's
/// default, so an upstream without healthchecks gets the full tree. Durations are seconds.
enum HealthchecksDefaults {
    private static func seconds(_ value: Int) -> FieldSpec {
        FieldSpec(.number, default: .int(value), between: 0...65535)
    }

    private static var counter: FieldSpec { .integer(default: 0, between: 0...255) }

    private static func statuses(_ codes: [Int]) -> FieldSpec {
        .array(of: .integer(between: 100...999), default: codes.map(JSONValue.int))
    }

    private static var checkType: FieldSpec {
        .string(default: "http", oneOf: ["tcp", "http", "https", "grpc", "grpcs"])
    }

    static let activeHealthy = [200, 302]
    static let activeUnhealthy = [429, 404, 500, 501, 502, 503, 504, 505]
    static let passiveHealthy = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308]
    static let passiveUnhealthy = [429, 500, 503]

    static let spec: FieldSpec = .record([
        SchemaField("active", .record([
            SchemaField("type", checkType),
            SchemaField("timeout", seconds(1)),
            SchemaField("concurrency", .integer(default: 10, between: 1...2_147_483_648)),
            SchemaField("http_path", FieldSpec(.string, default: .string("/"), startsWith: "/", validators: PathRules.servicePathValidators)),
            SchemaField("https_sni", Typedefs.sni),
            SchemaField("https_verify_certificate", .boolean(default: true)),
            SchemaField("headers", Typedefs.headers),
            SchemaField("healthy", .record([
                SchemaField("interval", seconds(0)),
                SchemaField("http_statuses", statuses(activeHealthy)),
                SchemaField("successes", counter),
            ])),
            SchemaField("unhealthy", .record([
                SchemaField("interval", seconds(0)),
                SchemaField("http_statuses", statuses(activeUnhealthy)),
                SchemaField("tcp_failures", counter),
                SchemaField("timeouts", counter),
                SchemaField("http_failures", counter),
            ])),
        ])),
        SchemaField("passive", .record([
            SchemaField("type", checkType),
            SchemaField("healthy", .record([
                SchemaField("http_statuses", statuses(passiveHealthy)),
                SchemaField("successes", counter),
            ])),
            SchemaField("unhealthy", .record([
                SchemaField("http_statuses", statuses(passiveUnhealthy)),
                SchemaField("tcp_failures", counter),
                SchemaField("timeouts", counter),
                SchemaField("http_failures", counter),
            ])),
        ])),
        SchemaField("threshold", FieldSpec(.number, default: .int(0), between: 0...100)),
    ])

    /// The whole tree with nothing configured.
    static var defaults: JSONValue {
        var errors: [FieldError] = []
        return SchemaValidator.validate(nil, spec, path: "healthchecks", errors: &errors) ?? .null
    }
}
