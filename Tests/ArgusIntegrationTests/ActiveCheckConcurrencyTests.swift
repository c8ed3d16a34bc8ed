import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// `healthchecks.active.concurrency`: at most that many of an upstream's targets are probed at
/// the same time. Three targets that take 300 ms to answer a probe, probed every 0.1 s: with
/// concurrency 1 no two probes overlap; with the default (10) they do.
@Suite("active health check concurrency")
struct ActiveCheckConcurrencyTests {
    /// Listeners that answer after `delay`, counting the connections open at once across all of them.
    final class SlowTargets: Sendable {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channels: [any Channel]
        let open = NIOLockedValueBox((current: 0, most: 0, total: 0))

        init(count: Int, delay: TimeAmount) async throws {
            var channels: [any Channel] = []
            let open = self.open
            for _ in 0..<count {
                channels.append(
                    try await ServerBootstrap(group: group)
                        .childChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(Answer(open: open, delay: delay))
                            }
                        }
                        .bind(host: "127.0.0.1", port: 0).get())
            }
            self.channels = channels
        }

        var ports: [Int] { channels.map { $0.localAddress!.port! } }

        func stop() async {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
        }

        final class Answer: ChannelInboundHandler, Sendable {
            typealias InboundIn = ByteBuffer
            let open: NIOLockedValueBox<(current: Int, most: Int, total: Int)>
            let delay: TimeAmount
            init(open: NIOLockedValueBox<(current: Int, most: Int, total: Int)>, delay: TimeAmount) {
                self.open = open
                self.delay = delay
            }

            func channelActive(context: ChannelHandlerContext) {
                open.withLockedValue {
                    $0.current += 1
                    $0.total += 1
                    $0.most = max($0.most, $0.current)
                }
            }

            func channelInactive(context: ChannelHandlerContext) {
                open.withLockedValue { $0.current -= 1 }
            }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let channel = context.channel
                context.eventLoop.scheduleTask(in: delay) {
                    channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
                        .whenComplete { _ in channel.close(promise: nil) }
                }
            }
        }
    }

    /// The most probes open at once while the gateway probes three slow targets for 2 s.
    func mostAtOnce(concurrency: Int?) async throws -> (most: Int, total: Int) {
        let targets = try await SlowTargets(count: 3, delay: .milliseconds(300))
        let setting = concurrency.map { ", concurrency: \($0)" } ?? ""
        let checks = "{active: {http_path: /health, timeout: 2\(setting), healthy: {interval: 0.1, successes: 1}, unhealthy: {interval: 0.1, http_failures: 1}}}"
        let gw = try await GatewayHarness(yaml: UpstreamHealthTests.yaml(targets.ports, healthchecks: checks))
        try await Task.sleep(for: .seconds(2))
        await gw.stop()
        let seen = targets.open.withLockedValue { ($0.most, $0.total) }
        await targets.stop()
        return seen
    }

    @Test func probesOfAnUpstreamNeverExceedItsConcurrency() async throws {
        let one = try await mostAtOnce(concurrency: 1)
        #expect(one.most == 1, "concurrency 1: one probe at a time")
        #expect(one.total >= 4, "the targets were probed in turn (\(one.total) probes)")
        let many = try await mostAtOnce(concurrency: nil)
        #expect(many.most >= 2, "the default (10) probes the three targets at once")
    }
}
