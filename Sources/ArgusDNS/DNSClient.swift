import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A DNS client over UDP on one event loop (SwiftNIO; no resolver library is mirrored here):
/// queries by id, a timeout per query, and the answers parsed by `DNSMessage`.
public final class DNSClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let eventLoop: any EventLoop
    public let server: SocketAddress
    private let state: NIOLockedValueBox<State>

    private struct State {
        var channel: (any Channel)?
        var binding: EventLoopFuture<any Channel>?
        var pending: [UInt16: EventLoopPromise<DNSResponse>] = [:]
        var nextID = UInt16.random(in: 0...UInt16.max)
    }

    public init(eventLoop: any EventLoop, server: SocketAddress) {
        self.eventLoop = eventLoop
        self.server = server
        self.state = NIOLockedValueBox(State())
    }

    /// The nameserver of `/etc/resolv.conf` (the first `nameserver` line), port 53.
    public static func systemServer() -> SocketAddress? {
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver", let address = try? SocketAddress(ipAddress: String(fields[1]), port: 53) {
                return address
            }
        }
        return nil
    }

    public func query(_ name: String, _ type: DNSRecordType, timeout: TimeAmount = .seconds(2)) -> EventLoopFuture<DNSResponse> {
        eventLoop.flatSubmit { [self] in
            channel().flatMap { channel in
                let promise = self.eventLoop.makePromise(of: DNSResponse.self)
                let id = self.state.withLockedValue { state -> UInt16 in
                    state.nextID &+= 1
                    state.pending[state.nextID] = promise
                    return state.nextID
                }
                guard let bytes = DNSMessage.query(id: id, name: name, type: type) else {
                    self.finish(id, .failure(Failure(description: "invalid name '\(name)'")))
                    return promise.futureResult
                }
                let envelope = AddressedEnvelope(remoteAddress: self.server, data: channel.allocator.buffer(bytes: bytes))
                channel.writeAndFlush(envelope).whenFailure { error in self.finish(id, .failure(error)) }
                self.eventLoop.scheduleTask(in: timeout) {
                    self.finish(id, .failure(Failure(description: "DNS query for \(name) timed out")))
                }
                return promise.futureResult
            }
        }
    }

    private func channel() -> EventLoopFuture<any Channel> {
        let existing = state.withLockedValue { state -> EventLoopFuture<any Channel>? in
            if let channel = state.channel { return eventLoop.makeSucceededFuture(channel) }
            return state.binding
        }
        if let existing { return existing }
        let local = server.ipAddress?.hasPrefix("127.") == true ? "127.0.0.1" : "0.0.0.0"
        let binding = DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(client: self))
                }
            }
            .bind(host: local, port: 0)
        state.withLockedValue { $0.binding = binding }
        binding.whenComplete { result in
            self.state.withLockedValue { state in
                state.binding = nil
                if case .success(let channel) = result { state.channel = channel }
            }
        }
        return binding
    }

    fileprivate func received(_ bytes: [UInt8]) {
        guard let response = DNSMessage.parse(bytes) else { return }
        finish(response.id, .success(response))
    }

    private func finish(_ id: UInt16, _ result: Result<DNSResponse, any Error>) {
        guard let promise = state.withLockedValue({ $0.pending.removeValue(forKey: id) }) else { return }
        promise.completeWith(result)
    }

    public func close() async {
        let channel = state.withLockedValue { $0.channel }
        try? await channel?.close()
    }
}

private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let client: DNSClient

    init(client: DNSClient) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        client.received(Array(envelope.data.readableBytesView))
    }
}

@available(*, unavailable)
extension ReplyHandler: Sendable {}
