enum KongConstants {
    /// `constants.PROTOCOLS`, sorted as Kong sorts them.
    static let protocols = ["grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"]
    /// The protocols of the http subsystem: the default of a plugin's `protocols`.
    static let httpProtocols = ["grpc", "grpcs", "http", "https"]
}
