import Atomics
import NIOConcurrencyHelpers

/// Holds the current `ConfigSnapshot`. Readers on the data path check one atomic version number
/// per request and take the lock only on the rare request after a reload.
public final class SnapshotStore: Sendable {
    @usableFromInline let version: ManagedAtomic<Int>
    private let current: NIOLockedValueBox<ConfigSnapshot>
    /// The last few snapshots by version, so that exporters can resolve the ids in events that
    /// were published just before a reload.
    private let recent: NIOLockedValueBox<[Int: ConfigSnapshot]>
    private static let keptVersions = 8

    public init(_ initial: ConfigSnapshot) {
        let first = initial.withVersion(1)
        version = ManagedAtomic(1)
        current = NIOLockedValueBox(first)
        recent = NIOLockedValueBox([1: first])
    }

    /// Replaces the configuration atomically: requests already running finish on the old one.
    public func replace(with snapshot: ConfigSnapshot) {
        current.withLockedValue { value in
            let next = snapshot.withVersion(value.version + 1)
            value = next
            version.store(next.version, ordering: .releasing)
            recent.withLockedValue { recent in
                recent[next.version] = next
                recent[next.version - Self.keptVersions] = nil
            }
        }
    }

    /// The snapshot with `version` if it is one of the last few, else the current one.
    public func snapshot(version: Int) -> ConfigSnapshot {
        recent.withLockedValue { $0[version] } ?? snapshot
    }

    public var snapshot: ConfigSnapshot { current.withLockedValue { $0 } }

    /// Returns `cached` when it is still current, else the current snapshot.
    @inlinable
    public func refresh(_ cached: ConfigSnapshot) -> ConfigSnapshot {
        version.load(ordering: .acquiring) == cached.version ? cached : snapshot
    }
}
