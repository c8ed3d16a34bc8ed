import Foundation
import NIOSSL
import Testing

/// A self-signed certificate for `localhost`, made by openssl, for the tests' TLS servers.
enum TestCertificate {
    /// A new directory holding `cert.pem` and `key.pem` (openssl by `system`, not Foundation's
    /// Process, whose waitUntilExit can hold a cooperative thread).
    static func make() throws -> String {
        let directory = NSTemporaryDirectory() + "argus-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let status = system(
            "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -keyout \(directory)/key.pem -out \(directory)/cert.pem "
                + "-days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1")
        #expect(status == 0)
        return directory
    }

    /// A TLS server context with the certificate in `directory`.
    static func serverContext(directory: String) throws -> NIOSSLContext {
        let certificate = try NIOSSLCertificate.fromPEMFile(directory + "/cert.pem")
        let key = try NIOSSLPrivateKey(file: directory + "/key.pem", format: .pem)
        return try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: certificate.map { .certificate($0) }, privateKey: .privateKey(key)))
    }
}
