import Foundation

/// Tests/Fixtures/tls (see its README): a CA certificate and one without the CA constraint.
enum CACertificateTestData {
    static func fixture(_ name: String) -> String {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: tests.appendingPathComponent("Fixtures/tls/\(name).pem"), encoding: .utf8)) ?? ""
    }

    static let ca = fixture("ca")
    static let leaf = fixture("leaf")
    static let digest = "69b743c087779f0e7780aef7e9156544709b1e3a4b9c587426cad99760bc6a25"
}
