import Crypto
import NIOSSL

/// CA certificates (`kong/db/schema/entities/ca_certificates.lua`): one PEM certificate each,
/// which must parse, must not be expired and must carry the `CA` basic constraint.
extension DeclarativeBuilder {
    static let caCertificateFields: [SchemaField] = [
        CommonFields.id, CommonFields.createdAt, CommonFields.updatedAt,
        SchemaField("cert", .string(required: true)),
        SchemaField("cert_digest", .string()),
        CommonFields.tags,
    ]

    func decodeCACertificate(_ node: DocNode, path: String) {
        guard let input = readEntity(node, path: path, parent: nil) else { return }
        let fields = validateFields(input, Self.caCertificateFields)
        guard let pem = fields["cert"]?.stringValue else { return }
        let digest: String
        switch Self.checkCACertificate(pem, nowSeconds: nowSeconds) {
        case .failure(let message):
            issues.add(message.onField ? DocPath.join(path, "cert") : path, message.text)
            return
        case .success(let computed):
            digest = computed
        }
        let id = entityID(fields, entity: "ca_certificates", key: digest, path: path)
        let certificate = CACertificate(
            id: id, createdAt: timestamp(fields, "created_at"), updatedAt: timestamp(fields, "updated_at"), cert: pem,
            certDigest: digest, tags: CommonFields.strings(fields["tags"]))
        caCertificates.append(Pending(model: certificate, path: path, references: input.references))
    }

    struct CertificateProblem: Error {
        var text: String
        /// Reported on the `cert` field (a parse error), else on the entity (Kong's entity check).
        var onField: Bool
    }

    /// The certificate's digest, or Kong's message for why it is not a usable CA certificate.
    static func checkCACertificate(_ pem: String, nowSeconds: Int) -> Result<String, CertificateProblem> {
        if Self.occurrences(of: "-----BEGIN CERTIFICATE-----", in: pem) > 1 {
            return .failure(.init(text: "please submit only one certificate at a time", onField: false))
        }
        let certificate: NIOSSLCertificate
        do {
            guard let first = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)).first else {
                return .failure(.init(text: "invalid certificate: no certificate found", onField: true))
            }
            certificate = first
        } catch {
            return .failure(.init(text: "invalid certificate: \(error)", onField: true))
        }
        if Int(certificate.notValidAfter) < nowSeconds {
            return .failure(.init(text: "certificate expired, \"Not After\" time is in the past", onField: false))
        }
        if !isCA(certificate) {
            return .failure(.init(
                text: "certificate does not appear to be a CA because it is missing the \"CA\" basic constraint", onField: false))
        }
        guard let der = try? certificate.toDERBytes() else {
            return .failure(.init(text: "invalid certificate: cannot be encoded", onField: true))
        }
        let hex = Array("0123456789abcdef".utf8)
        return .success(String(decoding: SHA256.hash(data: der).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0xF)]] }, as: UTF8.self))
    }

    private static func occurrences(of tag: String, in text: String) -> Int {
        let needle = Array(tag.utf8), hay = Array(text.utf8)
        guard hay.count >= needle.count else { return 0 }
        return (0...(hay.count - needle.count)).filter { hay[$0..<($0 + needle.count)].elementsEqual(needle) }.count
    }

    /// The basicConstraints extension (2.5.29.19) says `cA: TRUE`: its DER value is
    /// `SEQUENCE { BOOLEAN TRUE, ... }`, i.e. `30 len 01 01 <non-zero>`.
    private static func isCA(_ certificate: NIOSSLCertificate) -> Bool {
        let basicConstraints = NIOSSLObjectIdentifier("2.5.29.19")
        for item in certificate._extensions where item.objectIdentifier == basicConstraints {
            let bytes = Array(item.data)
            return bytes.count >= 5 && bytes[0] == 0x30 && bytes[2] == 0x01 && bytes[3] == 0x01 && bytes[4] != 0
        }
        return false
    }
}
