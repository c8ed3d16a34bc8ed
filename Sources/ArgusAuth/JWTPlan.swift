import ArgusPluginKit
import ArgusConfig
import ArgusEvents
import ArgusHTTP
import Crypto
import Foundation
import _CryptoExtras

/// Kong's jwt plugin (kong-compat §5.3): the token from the query, a cookie or a header, its
/// `key_claim_name` finds the consumer's jwt secret, the signature is verified with the secret's
/// algorithm (HS256/384/512 with its secret; RS256/384/512, PS256/384/512 with its
/// `rsa_public_key`; ES256/384/512 with an EC public key, EdDSA (Ed25519) with an Ed25519 one in `rsa_public_key`, as Kong stores it), then
/// the registered claims. Failures are Kong's "exit" answers: 401, a bare JSON body, no request id.
public final class JWTPlan: Sendable {
    let uriParamNames: [String]
    let cookieNames: [String]
    let headerNames: [String]
    let keyClaimName: String
    let secretIsBase64: Bool
    let claimsToVerify: [String]
    let maximumExpiration: Double
    public let anonymous: String?
    let runOnPreflight: Bool
    let realm: String?

    public init(config: JSONValue) {
        func strings(_ key: String, _ fallback: [String]) -> [String] {
            config[key]?.arrayValue?.compactMap(\.stringValue) ?? fallback
        }
        uriParamNames = strings("uri_param_names", ["jwt"])
        cookieNames = strings("cookie_names", [])
        headerNames = strings("header_names", ["authorization"]).map { $0.lowercased() }
        keyClaimName = config["key_claim_name"]?.stringValue ?? "iss"
        secretIsBase64 = config["secret_is_base64"]?.boolValue ?? false
        claimsToVerify = strings("claims_to_verify", [])
        maximumExpiration = config["maximum_expiration"]?.doubleValue ?? 0
        anonymous = config["anonymous"]?.stringValue
        runOnPreflight = config["run_on_preflight"]?.boolValue ?? true
        realm = config["realm"]?.stringValue
    }

    /// Reason codes: 1 no token, 2 malformed or ambiguous token, 3 unknown key, 4 bad algorithm,
    /// key or signature, 5 claims (expired, not yet valid, too long-lived).
    public func authenticate(
        _ head: RequestHead, directory: ConsumerDirectory, alreadyAuthenticated: Bool, nowSeconds: Double
    ) -> AuthOutcome {
        if !runOnPreflight && head.methodString == "OPTIONS" { return .skipped }
        if anonymous != nil && alreadyAuthenticated { return .skipped }
        let outcome = verify(head, directory: directory, now: nowSeconds)
        guard case .rejected = outcome, let anonymous else { return outcome }
        return directory.anonymous(anonymous)
    }

    private func verify(_ head: RequestHead, directory: ConsumerDirectory, now: Double) -> AuthOutcome {
        let token: String
        switch retrieveToken(head) {
        case .none: return reject(["message": "Unauthorized"], reason: 1, invalidToken: false)
        case .multiple: return reject(["message": "Multiple tokens provided"], reason: 2)
        case .one(let found): token = found
        }
        // Kong's decode_token: three parts (the third takes the rest); the header and claims must
        // decode as JSON ("invalid JSON" for any failure there), then the alg, then the signature
        let parts = token.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.base64URL(parts[0]), let claimsData = Self.base64URL(parts[1]),
              let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any],
              let claims = (try? JSONSerialization.jsonObject(with: claimsData)) as? [String: Any]
        else { return reject(["message": "Bad token; invalid JSON"], reason: 2) }
        guard let alg = header["alg"] as? String, Self.algorithms.contains(alg) else {
            return reject(["message": "Bad token; invalid alg"], reason: 2)
        }
        guard let signature = Self.base64URL(parts[2]) else { return reject(["message": "Bad token; invalid signature"], reason: 2) }
        guard let keyValue = claims[keyClaimName] ?? header[keyClaimName] else {
            return reject(["message": "No mandatory '\(keyClaimName)' in claims"], reason: 3)
        }
        guard let key = keyValue as? String, !key.isEmpty else { return reject(["message": "Invalid '\(keyClaimName)' in claims"], reason: 3) }
        guard let secret = directory.jwtSecret(key) else {
            return reject(["message": "No credentials found for given '\(keyClaimName)'"], reason: 3)
        }
        guard alg == secret.algorithm else { return reject(["message": "Invalid algorithm"], reason: 4) }
        var keyMaterial: [UInt8]?
        if alg.hasPrefix("HS") {
            keyMaterial = secret.secret.flatMap { secretIsBase64 ? Data(base64Encoded: Self.padded($0)).map(Array.init) : Array($0.utf8) }
        } else {
            keyMaterial = secret.publicKey.map { Array($0.utf8) }
        }
        guard let keyMaterial else { return reject(["message": "Invalid key/secret"], reason: 4) }
        let signed = Array((parts[0] + "." + parts[1]).utf8)
        switch Self.verifySignature(alg: alg, key: keyMaterial, signed: signed, signature: Array(signature)) {
        case .badKey: return reject(["message": "Invalid key/secret"], reason: 4)
        case .invalid: return reject(["message": "Invalid signature"], reason: 4)
        case .valid: break
        }
        var errors: [String: String] = [:]
        for claim in claimsToVerify {
            guard let value = (claims[claim] as? NSNumber).map({ $0.doubleValue }), !(claims[claim] is Bool) else {
                errors[claim] = "must be a number"
                continue
            }
            if claim == "exp" && value <= now { errors["exp"] = "token expired" }
            if claim == "nbf" && value > now { errors["nbf"] = "token not valid yet" }
        }
        if errors.isEmpty && maximumExpiration > 0 {
            if let exp = (claims["exp"] as? NSNumber)?.doubleValue, !(claims["exp"] is Bool) {
                if exp > now + maximumExpiration { errors["exp"] = "exceeds maximum allowed expiration" }
            } else {
                errors["exp"] = "must be a number"
            }
        }
        guard errors.isEmpty else { return reject(errors, reason: 5) }
        return .authenticated(secret.identity)
    }

    static let algorithms: Set<String> = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ]

    enum Token { case none, multiple, one(String) }

    /// Kong's `retrieve_tokens`: every non-empty token of the query arguments, the cookies (the
    /// first of each name, as nginx's `$cookie_…`) and the headers (`[Bb]earer <token>` anywhere in
    /// the first value), as a set: none, one (however many times it came), or several.
    private func retrieveToken(_ head: RequestHead) -> Token {
        var tokens: [String] = []
        func add(_ token: some StringProtocol) {
            let token = String(token)
            if !token.isEmpty, !tokens.contains(token) { tokens.append(token) }
        }
        let query = QueryString(head.string(head.query)[...])
        for name in uriParamNames {
            for value in query.values(named: name) { add(value) }
        }
        if !cookieNames.isEmpty {
            for name in cookieNames {
                var found: String?
                for header in head.values(forLowercasedName: "cookie") where found == nil {
                    for pair in header.split(separator: ";") {
                        let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        if kv.count == 2, kv[0] == name { found = kv[1]; break }
                    }
                }
                if let found { add(found) }
            }
        }
        for name in headerNames {
            guard let value = head.values(forLowercasedName: name).first, let token = Self.bearerToken(value) else { continue }
            add(token)
        }
        switch tokens.count {
        case 0: return .none
        case 1: return .one(tokens[0])
        default: return .multiple
        }
    }

    /// Kong's `\s*[Bb]earer\s+(.+)`, unanchored: what follows the first `Bearer`/`bearer` and its blanks.
    static func bearerToken(_ value: String) -> Substring? {
        var rest = Substring(value)
        while let start = rest.firstIndex(where: { $0 == "B" || $0 == "b" }) {
            let candidate = rest[start...]
            if candidate.dropFirst().hasPrefix("earer") {
                let after = candidate.dropFirst(6)
                if let first = after.first, first == " " || first == "\t" {
                    let token = after.drop { $0 == " " || $0 == "\t" }
                    if !token.isEmpty { return token }
                }
            }
            rest = rest[rest.index(after: start)...]
        }
        return nil
    }

    /// Kong's "exit" answer: 401, the body as given (no request id), and a Bearer challenge.
    private func reject(_ body: [String: String], reason: UInt8, invalidToken: Bool = true) -> AuthOutcome {
        var challenge = "Bearer"
        var parameters: [String] = []
        if let realm { parameters.append("realm=\"\(realm)\"") }
        if invalidToken { parameters.append("error=\"invalid_token\"") }
        if !parameters.isEmpty { challenge += " " + parameters.joined(separator: ", ") }
        let json = "{" + body.keys.sorted().map { "\(JSONText.quote($0)):\(JSONText.quote(body[$0]!))" }.joined(separator: ",") + "}"
        return .rejected(AccessRejection(
            status: 401, message: body["message"] ?? body.values.first ?? "Unauthorized", headers: [("WWW-Authenticate", challenge)],
            reason: reason, exitBody: json))
    }

    enum SignatureCheck { case valid, invalid, badKey }

    static func verifySignature(alg: String, key: [UInt8], signed: [UInt8], signature: [UInt8]) -> SignatureCheck {
        switch alg {
        case "HS256": return hmac(SHA256.self, key, signed, signature)
        case "HS384": return hmac(SHA384.self, key, signed, signature)
        case "HS512": return hmac(SHA512.self, key, signed, signature)
        case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
            guard let pem = String(bytes: key, encoding: .utf8), let publicKey = try? _RSA.Signing.PublicKey(pemRepresentation: pem) else {
                return .badKey
            }
            let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: signature)
            let padding: _RSA.Signing.Padding = alg.hasPrefix("PS") ? .PSS : .insecurePKCS1v1_5
            let ok: Bool
            switch alg.suffix(3) {
            case "256": ok = publicKey.isValidSignature(rsaSignature, for: SHA256.hash(data: signed), padding: padding)
            case "384": ok = publicKey.isValidSignature(rsaSignature, for: SHA384.hash(data: signed), padding: padding)
            default: ok = publicKey.isValidSignature(rsaSignature, for: SHA512.hash(data: signed), padding: padding)
            }
            return ok ? .valid : .invalid
        case "ES256":
            guard let pem = String(bytes: key, encoding: .utf8), let publicKey = try? P256.Signing.PublicKey(pemRepresentation: pem) else {
                return .badKey
            }
            guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return .invalid }
            return publicKey.isValidSignature(ecdsa, for: signed) ? .valid : .invalid
        case "ES384":
            guard let pem = String(bytes: key, encoding: .utf8), let publicKey = try? P384.Signing.PublicKey(pemRepresentation: pem) else {
                return .badKey
            }
            guard let ecdsa = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return .invalid }
            return publicKey.isValidSignature(ecdsa, for: signed) ? .valid : .invalid
        case "ES512":
            guard let pem = String(bytes: key, encoding: .utf8), let publicKey = try? P521.Signing.PublicKey(pemRepresentation: pem) else {
                return .badKey
            }
            guard let ecdsa = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return .invalid }
            return publicKey.isValidSignature(ecdsa, for: signed) ? .valid : .invalid
        case "EdDSA":
            // Ed25519 (RFC 8037), the key as a PEM SubjectPublicKeyInfo, as Kong stores it
            guard let raw = ed25519Key(key), let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                return .badKey
            }
            return publicKey.isValidSignature(signature, for: signed) ? .valid : .invalid
        default:
            return .invalid
        }
    }

    /// The 32 key bytes of an Ed25519 `-----BEGIN PUBLIC KEY-----` PEM (SPKI: the fixed 12-byte
    /// prefix `30 2a 30 05 06 03 2b 65 70 03 21 00`, then the key).
    static func ed25519Key(_ pem: [UInt8]) -> [UInt8]? {
        guard let text = String(bytes: pem, encoding: .utf8) else { return nil }
        let body = text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard let der = Data(base64Encoded: String(body)).map(Array.init), der.count == 44 else { return nil }
        let prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
        guard Array(der[0..<12]) == prefix else { return nil }
        return Array(der[12...])
    }

    private static func hmac<H: HashFunction>(_: H.Type, _ key: [UInt8], _ signed: [UInt8], _ signature: [UInt8]) -> SignatureCheck {
        let expected = Array(HMAC<H>.authenticationCode(for: signed, using: SymmetricKey(data: key)))
        return ConstantTime.equal(expected, signature) ? .valid : .invalid
    }

    static func padded(_ text: String) -> String {
        let remainder = text.utf8.count % 4
        return remainder == 0 ? text : text + String(repeating: "=", count: 4 - remainder)
    }

    /// base64url without padding (RFC 7515), also accepting padding and the standard alphabet.
    static func base64URL(_ text: Substring) -> Data? {
        var s = String(text).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        s = padded(s)
        return Data(base64Encoded: s)
    }
}
