import NIOSSL

/// Certificates and SNIs (`kong/db/schema/entities/certificates.lua`, `snis.lua`): a PEM
/// certificate and its key (and optionally an alternative pair of the other key type), served
/// for the SNI names that point at it. A certificate's `snis` may be nested as SNI records or,
/// as the Admin API takes them, as plain names.
extension DeclarativeBuilder {
    static let certificateFields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("cert", FieldSpec(.string, required: true, validators: [Typedefs.string(CertificateRules.validateCertificate)])),
        SchemaField("key", FieldSpec(.string, required: true, validators: [Typedefs.string(CertificateRules.validateKey)])),
        SchemaField("cert_alt", FieldSpec(.string, validators: [Typedefs.string(CertificateRules.validateCertificate)])),
        SchemaField("key_alt", FieldSpec(.string, validators: [Typedefs.string(CertificateRules.validateKey)])),
        CommonFields.tags,
    ]

    static let certificateChecks: [RecordCheck] = [
        .mutuallyRequired(["cert_alt", "key_alt"]),
        RecordCheck { record, path in
            guard let cert = record["cert"]?.stringValue, let key = record["key"]?.stringValue else { return [] }
            var errors: [FieldError] = []
            if !CertificateRules.matches(cert: cert, key: key) {
                errors.append(FieldError(path: path, message: "certificate does not match key"))
            }
            if let certAlt = record["cert_alt"]?.stringValue, let keyAlt = record["key_alt"]?.stringValue {
                if !CertificateRules.matches(cert: certAlt, key: keyAlt) {
                    errors.append(FieldError(path: path, message: "alternative certificate does not match key"))
                } else if CertificateRules.isECDSA(cert) == CertificateRules.isECDSA(certAlt) {
                    errors.append(FieldError(
                        path: path,
                        message: "certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), "
                            + "the provided certificates were both of the same type"))
                }
            }
            return errors
        },
    ]

    static let sniFields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("name", FieldSpec(.string, required: true, validators: [Typedefs.string(CertificateRules.validateWildcardHost)])),
        CommonFields.tags,
    ]

    func decodeCertificate(_ node: DocNode, path: String) {
        guard let input = readEntity(node, path: path, children: ["snis"], parent: nil) else { return }
        let fields = validateFields(input, Self.certificateFields, checks: Self.certificateChecks)
        let id = entityID(fields, entity: "certificates", key: nil, path: path)
        let certificate = Certificate(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"),
            cert: fields["cert"]?.stringValue ?? "", key: fields["key"]?.stringValue ?? "", certAlt: fields["cert_alt"]?.stringValue,
            keyAlt: fields["key_alt"]?.stringValue, tags: CommonFields.strings(fields["tags"]))
        certificates.append(Pending(model: certificate, path: path, references: input.references))
        let parent = ParentLink(field: "certificate", entity: "certificates", id: id)
        for (key, node) in input.children {
            forEachItem(of: node, path: DocPath.join(input.path, key)) { item, itemPath in
                // the Admin API's shorthand: `snis: ["example.com"]`
                if let name = item.stringValue {
                    decodeSNI(DocNode(.object([(key: "name", value: DocNode(.string(name), at: item.position))]), at: item.position), path: itemPath, parent: parent)
                } else {
                    decodeSNI(item, path: itemPath, parent: parent)
                }
            }
        }
    }

    func decodeSNI(_ node: DocNode, path: String, parent: ParentLink?) {
        guard let input = readEntity(node, path: path, foreign: ["certificate": "certificates"], parent: parent) else { return }
        let fields = validateFields(input, Self.sniFields)
        if input.references["certificate"] == nil {
            issues.add(DocPath.join(path, "certificate"), KongMessage.required)
        }
        let name = fields["name"]?.stringValue ?? ""
        let id = entityID(fields, entity: "snis", key: name, path: path)
        let sni = SNI(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"), name: name,
            certificateID: "", tags: CommonFields.strings(fields["tags"]))
        snis.append(Pending(model: sni, path: path, references: input.references))
    }
}

/// Kong's checks of certificates, keys and SNI names.
public enum CertificateRules {
    /// typedefs.certificate: the PEM parses as a certificate.
    static func validateCertificate(_ pem: String) -> String? {
        do {
            guard try !NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)).isEmpty else {
                return "invalid certificate: PEM_read_bio_X509_AUX() failed"
            }
            return nil
        } catch {
            return "invalid certificate: PEM_read_bio_X509_AUX() failed"
        }
    }

    /// typedefs.key: the PEM parses as a private key.
    static func validateKey(_ pem: String) -> String? {
        (try? NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem)) == nil ? "invalid key: PEM_read_bio_PrivateKey() failed" : nil
    }

    /// The key is the certificate's (BoringSSL refuses a server context with a key that is not).
    public static func matches(cert: String, key: String) -> Bool {
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(Array(cert.utf8)), !chain.isEmpty,
              let privateKey = try? NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem)
        else { return false }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        return (try? NIOSSLContext(configuration: configuration)) != nil
    }

    /// The certificate's public key is an EC key (its SubjectPublicKeyInfo names id-ecPublicKey).
    public static func isECDSA(_ cert: String) -> Bool {
        guard let leaf = try? NIOSSLCertificate.fromPEMBytes(Array(cert.utf8)).first,
              let spki = try? leaf.extractPublicKey().toSPKIBytes()
        else { return false }
        let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
        guard spki.count >= ecPublicKey.count else { return false }
        return (0...(spki.count - ecPublicKey.count)).contains { spki[$0..<($0 + ecPublicKey.count)].elementsEqual(ecPublicKey) }
    }

    /// Kong's message for an SNI name that is not a valid `wildcard_host`, or nil.
    public static func validateWildcardHostName(_ host: String) -> String? { validateWildcardHost(host) }

    /// typedefs.wildcard_host: one `*`, as the first or last character; otherwise a host name
    /// without a port.
    static func validateWildcardHost(_ host: String) -> String? {
        var host = host
        if let index = host.firstIndex(of: "*") {
            if index != host.startIndex && index != host.index(before: host.endIndex) {
                return "wildcard must be leftmost or rightmost character"
            }
            if host.filter({ $0 == "*" }).count > 1 { return "only one wildcard must be specified" }
            host = host.map { $0 == "*" ? "wildcard" : String($0) }.joined()
        }
        return HostRules.validateSNI(host)
    }
}
