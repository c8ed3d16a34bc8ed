import NIOCore

/// What a TLS server needs to know of a client before its handshake starts: the name it asked
/// for (SNI) and whether it can verify an ECDSA certificate (to pick between a certificate and its
/// alternative of the other key type, as OpenSSL does with nginx's two `ssl_certificate`s).
public struct ClientHello: Sendable, Equatable {
    /// The `server_name` extension's host name as sent (nil without one).
    public var serverName: String?
    /// The client accepts an ECDSA certificate (its signature algorithms and, below TLS 1.3, its
    /// cipher suites allow one).
    public var acceptsECDSA: Bool
    /// The protocols it offers by ALPN, in its order.
    public var alpn: [String]

    public init(serverName: String? = nil, acceptsECDSA: Bool = true, alpn: [String] = []) {
        self.serverName = serverName
        self.acceptsECDSA = acceptsECDSA
        self.alpn = alpn
    }
}

/// Reads the first bytes of a connection to a TLS port, before BoringSSL sees them: the
/// ClientHello (reassembled from as many handshake records as it takes), or the sign that the
/// client speaks something else: plain HTTP (nginx's "plain HTTP request was sent to HTTPS port")
/// or bytes that are not TLS at all. Pure: fed the bytes as they arrive.
public struct ClientHelloReader: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Not enough bytes yet.
        case needMore
        case hello(ClientHello)
        /// The first bytes are an HTTP method's letters.
        case plainHTTP
        /// Not a TLS handshake record, a ClientHello that does not parse, or one over the limit.
        case notTLS(String)
    }

    /// A ClientHello larger than this is refused (BoringSSL's own limit is near it; with
    /// post-quantum key shares a real one is under 2 KiB).
    public static let maxHelloLength = 64 * 1024

    public init() {}

    /// Judges the bytes received so far (all of them, from the first).
    public func read(_ bytes: ByteBuffer) -> Outcome {
        var input = bytes
        guard let first = input.getInteger(at: input.readerIndex, as: UInt8.self) else { return .needMore }
        if first != 0x16 {
            return (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) ? .plainHTTP : .notTLS("not a TLS handshake record")
        }
        // Reassemble the handshake message from the records' payloads.
        var handshake = ByteBuffer()
        while input.readableBytes >= 5 {
            let type = input.readInteger(as: UInt8.self)!
            let major = input.readInteger(as: UInt8.self)!
            input.moveReaderIndex(forwardBy: 1)
            let length = Int(input.readInteger(as: UInt16.self)!)
            guard type == 0x16 else { return .notTLS("a record other than handshake before the ClientHello") }
            guard major == 3, length > 0, length <= 16_384 + 256 else { return .notTLS("a malformed TLS record header") }
            guard var payload = input.readSlice(length: length) else { return .needMore }
            handshake.writeBuffer(&payload)
            guard handshake.readableBytes >= 4 else { continue }
            let messageType = handshake.getInteger(at: handshake.readerIndex, as: UInt8.self)!
            guard messageType == 0x01 else { return .notTLS("a handshake message other than ClientHello") }
            let high = Int(handshake.getInteger(at: handshake.readerIndex + 1, as: UInt8.self)!)
            let low = Int(handshake.getInteger(at: handshake.readerIndex + 2, as: UInt16.self)!)
            let messageLength = high << 16 | low
            guard messageLength <= Self.maxHelloLength else { return .notTLS("a ClientHello over \(Self.maxHelloLength) bytes") }
            guard handshake.readableBytes >= 4 + messageLength else { continue }
            guard let body = handshake.getSlice(at: handshake.readerIndex + 4, length: messageLength),
                  let hello = Self.parse(body)
            else { return .notTLS("a ClientHello that does not parse") }
            return .hello(hello)
        }
        return .needMore
    }

    /// ECDSA signature schemes (TLS 1.2's ecdsa+sha1…sha512 and TLS 1.3's ecdsa_secp*).
    private static let ecdsaSchemes: Set<UInt16> = [0x0203, 0x0303, 0x0403, 0x0503, 0x0603]
    /// The TLS 1.2 suites authenticated with ECDSA that Argus enables (`TLSServerContexts`): a
    /// client offering only others (CBC ones) must get the RSA certificate, or no suite is common.
    private static let ecdsaSuites: Set<UInt16> = [0xC02B, 0xC02C, 0xCCA9]
    /// TLS 1.3's suites (any key type).
    private static let tls13Suites: Set<UInt16> = [0x1301, 0x1302, 0x1303]

    static func parse(_ message: ByteBuffer) -> ClientHello? {
        var body = message
        guard body.readInteger(as: UInt16.self) != nil, body.readSlice(length: 32) != nil,
              let sessionLength = body.readInteger(as: UInt8.self), body.readSlice(length: Int(sessionLength)) != nil,
              let suitesLength = body.readInteger(as: UInt16.self), suitesLength % 2 == 0,
              var suites = body.readSlice(length: Int(suitesLength)),
              let compressionLength = body.readInteger(as: UInt8.self), body.readSlice(length: Int(compressionLength)) != nil
        else { return nil }
        var hello = ClientHello()
        var ecdsaSuite = false, tls13Suite = false
        while let suite = suites.readInteger(as: UInt16.self) {
            if ecdsaSuites.contains(suite) { ecdsaSuite = true }
            if tls13Suites.contains(suite) { tls13Suite = true }
        }
        var ecdsaScheme: Bool?
        var offersTLS13 = false
        if body.readableBytes > 0 {
            guard let extensionsLength = body.readInteger(as: UInt16.self), var extensions = body.readSlice(length: Int(extensionsLength))
            else { return nil }
            while extensions.readableBytes > 0 {
                guard let type = extensions.readInteger(as: UInt16.self), let length = extensions.readInteger(as: UInt16.self),
                      var data = extensions.readSlice(length: Int(length))
                else { return nil }
                switch type {
                case 0:  // server_name
                    guard data.readInteger(as: UInt16.self) != nil else { return nil }
                    while let nameType = data.readInteger(as: UInt8.self), let nameLength = data.readInteger(as: UInt16.self) {
                        guard let name = data.readString(length: Int(nameLength)) else { return nil }
                        if nameType == 0 && hello.serverName == nil { hello.serverName = name }
                    }
                case 13:  // signature_algorithms
                    guard data.readInteger(as: UInt16.self) != nil else { return nil }
                    var found = false
                    while !found, let scheme = data.readInteger(as: UInt16.self) { found = ecdsaSchemes.contains(scheme) }
                    ecdsaScheme = found
                case 16:  // application_layer_protocol_negotiation
                    guard data.readInteger(as: UInt16.self) != nil else { return nil }
                    while let length = data.readInteger(as: UInt8.self) {
                        guard let name = data.readString(length: Int(length)) else { return nil }
                        hello.alpn.append(name)
                    }
                case 43:  // supported_versions
                    guard data.readInteger(as: UInt8.self) != nil else { return nil }
                    while !offersTLS13, let version = data.readInteger(as: UInt16.self) { offersTLS13 = version == 0x0304 }
                default:
                    break
                }
            }
        }
        // Without signature_algorithms a TLS 1.2 client takes SHA-1 with either key type.
        hello.acceptsECDSA = (ecdsaScheme ?? true) && ((offersTLS13 && tls13Suite) || ecdsaSuite)
        return hello
    }
}
