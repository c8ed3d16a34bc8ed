import ArgusConfig
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// The embedded database behind the Admin API when Argus runs without `--config`: one SQLite
/// file (`argus.db` in the data directory), one row per entity holding its declarative JSON.
/// Each change is one transaction, synchronous to disk (WAL, `synchronous=FULL`) before the API
/// answers. sqlite-nio runs SQLite on a thread pool, never on an event loop.
public actor EntityDatabase {
    struct Row: Sendable {
        var kind: String
        var id: String
        var body: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let connection: SQLiteConnection
    public nonisolated let path: String

    private init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    public static func open(path: String, logger: Logger) async throws(Failure) -> EntityDatabase {
        do {
            let connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: .singleton, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            _ = try await connection.query("PRAGMA journal_mode=WAL", [])
            _ = try await connection.query("PRAGMA synchronous=FULL", [])
            _ = try await connection.query(
                "CREATE TABLE IF NOT EXISTS entities (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id))", [])
            return EntityDatabase(connection: connection, path: path)
        } catch {
            throw Failure(description: "cannot open database '\(path)': \(error)")
        }
    }

    /// Every stored entity as a declarative document (`_transform: false`: passwords are stored hashed).
    public func document() async throws(Failure) -> JSONValue {
        var root: [String: JSONValue] = ["_format_version": .string("3.0"), "_transform": .bool(false)]
        do {
            let rows = try await connection.query("SELECT kind, body FROM entities ORDER BY kind, id", [])
            for row in rows {
                guard let kind = row.column("kind")?.string, let body = row.column("body")?.string else { continue }
                guard let value = try? ConfigLoader.parseValue(text: body) else {
                    throw Failure(description: "database '\(path)': unreadable '\(kind)' entity")
                }
                root[kind] = .array((root[kind]?.arrayValue ?? []) + [value])
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "cannot read database '\(path)': \(error)")
        }
        return .object(root)
    }

    /// Writes one change as one transaction.
    func apply(upserts: [Row], deletes: [Row]) async throws {
        if upserts.isEmpty && deletes.isEmpty { return }
        _ = try await connection.query("BEGIN IMMEDIATE", [])
        do {
            for row in deletes {
                _ = try await connection.query("DELETE FROM entities WHERE kind = ? AND id = ?", [.text(row.kind), .text(row.id)])
            }
            for row in upserts {
                _ = try await connection.query(
                    "INSERT OR REPLACE INTO entities (kind, id, body) VALUES (?, ?, ?)", [.text(row.kind), .text(row.id), .text(row.body)])
            }
            _ = try await connection.query("COMMIT", [])
        } catch {
            _ = try? await connection.query("ROLLBACK", [])
            throw error
        }
    }

    func ping() async -> Bool {
        (try? await connection.query("SELECT 1", [])) != nil
    }

    public func close() async {
        try? await connection.close()
    }
}
