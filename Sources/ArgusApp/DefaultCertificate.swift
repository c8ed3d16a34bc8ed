import ArgusConfig
import ArgusTransport
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// The certificate TLS listeners serve when no SNI matches (Kong's `ssl_cert`): the one given by
/// `--ssl-cert`/`--ssl-cert-key`, or, as Kong does, a self-signed pair of each key type (RSA 2048
/// and ECDSA P-256, `CN=localhost`, 20 years) made on first use and kept in the data directory
/// (`ssl/argus-default[-ecdsa].crt|key`, keys 0600), so every restart serves the same one.
enum DefaultCertificate {
    struct Files {
        var cert: String
        var key: String
    }

    /// The default certificate, made ready for handshakes.
    static func load(
        certFile: String?, keyFile: String?, dataDirectory: String, contexts: TLSServerContexts
    ) throws(StartupError) -> ServerCertificate {
        if let certFile, let keyFile {
            let cert = try read(certFile), key = try read(keyFile)
            guard CertificateRules.matches(cert: cert, key: key) else {
                throw StartupError("invalid --ssl-cert/--ssl-cert-key: \(certFile): certificate does not match key")
            }
            do {
                return try contexts.certificate(id: "default", cert: cert, key: key, primaryIsECDSA: CertificateRules.isECDSA(cert))
            } catch {
                throw StartupError("invalid --ssl-cert/--ssl-cert-key: \(error.description)")
            }
        }
        let directory = (dataDirectory as NSString).appendingPathComponent("ssl")
        let rsa = Files(cert: directory + "/argus-default.crt", key: directory + "/argus-default.key")
        let ecdsa = Files(cert: directory + "/argus-default-ecdsa.crt", key: directory + "/argus-default-ecdsa.key")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (files, isRSA) in [(rsa, true), (ecdsa, false)] where !FileManager.default.fileExists(atPath: files.cert) {
                let (cert, key) = try generate(rsa: isRSA)
                try write(key, to: files.key, mode: 0o600)
                try write(cert, to: files.cert, mode: 0o644)
            }
            return try contexts.certificate(
                id: "default", cert: read(ecdsa.cert), key: read(ecdsa.key), certAlt: read(rsa.cert), keyAlt: read(rsa.key),
                primaryIsECDSA: true)
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("cannot make the default TLS certificate in \(directory): \(error)")
        }
    }

    /// A self-signed certificate and its key, as PEM.
    static func generate(rsa: Bool, now: Date = Date()) throws -> (cert: String, key: String) {
        let key: X509.Certificate.PrivateKey = rsa
            ? X509.Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048)) : X509.Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            CountryName("US")
            StateOrProvinceName("California")
            LocalityName("San Francisco")
            OrganizationName("Argus")
            OrganizationalUnitName("IT Department")
            CommonName("localhost")
        }
        let certificate = try X509.Certificate(
            version: .v3, serialNumber: X509.Certificate.SerialNumber(), publicKey: key.publicKey, notValidBefore: now,
            notValidAfter: now.addingTimeInterval(20 * 365 * 86400), issuer: name, subject: name,
            extensions: try X509.Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectKeyIdentifier(hash: key.publicKey)
            },
            issuerPrivateKey: key)
        return (try certificate.serializeAsPEM().pemString, try key.serializeAsPEM().pemString)
    }

    private static func read(_ path: String) throws(StartupError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw StartupError("cannot read \(path): \(error.localizedDescription)")
        }
    }

    private static func write(_ text: String, to path: String, mode: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw StartupError("cannot write \(path)")
        }
    }
}
