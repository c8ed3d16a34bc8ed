import NIOConcurrencyHelpers
import NIOCore

/// Keeps upstream target names resolved: each name is resolved again when its TTL runs out (at
/// least 1 s), a failed one every 5 s, and every change (new addresses, a failure, a recovery)
/// is handed to `onChange` with every name's current result. Runs on the DNS client's event loop.
public final class DNSRefresher: Sendable {
    public let resolver: TargetResolver
    private let onChange: @Sendable ([String: ResolvedName]) -> Void
    private let state = NIOLockedValueBox(State())
    private let task = NIOLockedValueBox<RepeatedTask?>(nil)

    private struct State {
        var names: Set<String> = []
        var results: [String: ResolvedName] = [:]
        var due: [String: NIODeadline] = [:]
        var inFlight: Set<String> = []
    }

    public init(resolver: TargetResolver, onChange: @escaping @Sendable ([String: ResolvedName]) -> Void) {
        self.resolver = resolver
        self.onChange = onChange
    }

    /// Every name's result so far.
    public var current: [String: ResolvedName] { state.withLockedValue { $0.results } }

    /// The names to keep resolved (target hosts that are not IP addresses). New ones are resolved
    /// at once; names no longer used are forgotten.
    public func update(names: Set<String>) -> EventLoopFuture<Void> {
        let added = state.withLockedValue { state -> [String] in
            let added = names.subtracting(state.names)
            state.names = names
            for gone in state.results.keys where !names.contains(gone) {
                state.results[gone] = nil
                state.due[gone] = nil
            }
            return Array(added)
        }
        let loop = resolver.client.eventLoop
        return EventLoopFuture.andAllComplete(added.map { resolve($0) }, on: loop)
    }

    /// Resolves every name now (at start, before the proxy listens).
    public func resolveAll() -> EventLoopFuture<Void> {
        let names = state.withLockedValue { $0.names }
        return EventLoopFuture.andAllComplete(names.map { resolve($0) }, on: resolver.client.eventLoop)
    }

    public func start() {
        let loop = resolver.client.eventLoop
        let repeated = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            let now = NIODeadline.now()
            let due = state.withLockedValue { state in
                state.names.filter { name in !state.inFlight.contains(name) && (state.due[name].map { $0 <= now } ?? true) }
            }
            for name in due { _ = resolve(name) }
        }
        task.withLockedValue { $0 = repeated }
    }

    public func stop() {
        task.withLockedValue { $0?.cancel(); $0 = nil }
    }

    private func resolve(_ name: String) -> EventLoopFuture<Void> {
        state.withLockedValue { _ = $0.inFlight.insert(name) }
        return resolver.resolve(name).map { [self] result in
            let changed = state.withLockedValue { state -> [String: ResolvedName]? in
                state.inFlight.remove(name)
                guard state.names.contains(name) else { return nil }
                let wait: TimeAmount = result.failed ? .seconds(5) : .seconds(Int64(max(1, min(result.ttl, 3600))))
                state.due[name] = .now() + wait
                let previous = state.results[name]
                state.results[name] = result
                let same = previous.map { Set($0.addresses) == Set(result.addresses) } ?? false
                return same ? nil : state.results
            }
            if let changed { onChange(changed) }
        }
    }
}
