// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "argus",
    products: [
        .executable(name: "argus", targets: ["argus"]),
        .executable(name: "argus-bench", targets: ["argus-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        // Declarative configuration: kong.yml / JSON parsing, Kong's defaults and validation. No I/O but reading the file.
        .target(
            name: "ArgusConfig",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                // parses CA certificates (ca_certificates entities) to validate them as Kong does
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Kong's traditional_compatible router compiled into an immutable snapshot. Pure.
        .target(name: "ArgusRouting", dependencies: ["ArgusConfig"]),
        // Strict HTTP/1.1 request/response head parsers and body framing on ByteBuffer. Pure.
        .target(
            name: "ArgusHTTP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // A small Redis client on SwiftNIO (RESP2, pipelining, a per-loop pool, AUTH/SELECT, TLS): none is mirrored here.
        .target(
            name: "ArgusRedis",
            dependencies: [
                "ArgusLoop", "ArgusTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The rate-limiting plugin: calendar windows, the exact local counter store, the atomic Redis script.
        .target(
            name: "ArgusRateLimit",
            dependencies: [
                "ArgusConfig", "ArgusRedis", "ArgusEvents", "ArgusStatistics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the access phase's plugins share: the request's query and body as Kong's PDK reads
        // them, client addresses and CIDR sets, the shape of a refusal.
        .target(
            name: "ArgusPluginKit",
            dependencies: [
                "ArgusConfig", "ArgusHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Authentication and access control (key-auth, basic-auth, jwt, acl, ip-restriction):
        // consumers and credentials indexed per snapshot.
        .target(
            name: "ArgusAuth",
            dependencies: [
                "ArgusConfig", "ArgusHTTP", "ArgusEvents", "ArgusPluginKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Traffic plugins (correlation-id, cors, request-size-limiting, request- and response-transformer).
        .target(
            name: "ArgusTraffic",
            dependencies: [
                "ArgusConfig", "ArgusHTTP", "ArgusPluginKit",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // DNS for upstream targets: a UDP client (none is mirrored here), SRV then A, TTL-driven refresh.
        .target(
            name: "ArgusDNS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // proxy-cache's memory strategy: cache keys, Cache-Control, the shared LRU store with miss coalescing.
        .target(
            name: "ArgusCache",
            dependencies: [
                "ArgusConfig", "ArgusHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Upstream target health: Kong's counters, the registry kept across reloads, active probes.
        .target(
            name: "ArgusHealth",
            dependencies: [
                "ArgusConfig", "ArgusStatistics", "ArgusTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Transport below the data path: plain or TLS byte streams on ArgusLoop (client and server
        // side), and the HTTP/1.1 upstream client (connections, the per-loop pool, TLS client contexts).
        .target(
            name: "ArgusTransport",
            dependencies: [
                "ArgusLoop", "ArgusHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // HTTP/2 to clients as a layer under the data path: SwiftNIO's HTTP/2 state machine (frames,
        // HPACK, flow control, its DoS defences) over a client transport; each stream is handed to the
        // HTTP/1.1 request machinery as a byte stream of its own.
        .target(
            name: "ArgusHTTP2",
            dependencies: [
                "ArgusLoop", "ArgusHTTP", "ArgusTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // A configuration compiled for the data path (pure, no I/O): the router, per-service and
        // per-route plans, the access plugins' instances in Kong's order, the balancers, TLS settings.
        .target(
            name: "ArgusSnapshot",
            dependencies: [
                "ArgusConfig", "ArgusRouting", "ArgusPluginKit", "ArgusAuth", "ArgusTraffic", "ArgusCache", "ArgusRateLimit", "ArgusRedis", "ArgusHealth", "ArgusDNS", "ArgusTransport",
                "ArgusTracing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // The data path: accept, parse, route, forward, stream back.
        .target(
            name: "ArgusProxy",
            dependencies: [
                "ArgusConfig", "ArgusRouting", "ArgusHTTP", "ArgusEvents", "ArgusRateLimit", "ArgusRedis", "ArgusPluginKit", "ArgusAuth", "ArgusTraffic", "ArgusHealth", "ArgusCache", "ArgusDNS",
                "ArgusLoop", "ArgusTransport", "ArgusStatistics", "ArgusSnapshot", "ArgusHTTP2", "ArgusTracing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Traces: Kong's trace context propagation (extract, inject, sample) for the request path,
        // and OTLP's protobuf messages written by hand for the exporter (no message objects).
        .target(name: "ArgusTracing", dependencies: ["ArgusConfig", "ArgusEvents"]),
        // The event ring: every request as a compact RequestEvent, broadcast to exporters. Lock-free; stdlib Synchronization.
        .target(name: "ArgusEvents", dependencies: ["ArgusStatistics"]),
        // What a component reports about itself for /metrics (no dependencies: the ring, health
        // checks and rate limiting report without importing each other).
        .target(name: "ArgusStatistics"),
        // The system zlib, for gzip-compressed scrapes and log batches.
        .systemLibrary(name: "CZlib"),
        .systemLibrary(name: "CEpoll"),
        .target(
            name: "ArgusLoop",
            dependencies: [
                "CEpoll",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .target(name: "ArgusCompression", dependencies: ["CZlib"]),
        // Exporters on the event ring: the Prometheus aggregator and its exposition.
        .target(
            name: "ArgusMetrics",
            dependencies: [
                "ArgusConfig", "ArgusEvents", "ArgusStatistics", "ArgusCompression",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Log sinks on the event ring: Kong's log serializer, file-log, http-log (with its disk spool).
        .target(
            name: "ArgusLogging",
            dependencies: [
                "ArgusConfig", "ArgusEvents", "ArgusStatistics", "ArgusCompression", "ArgusTracing", "ArgusHTTP", "ArgusLoop",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The Admin API: Kong's entity CRUD over the same validation as kong.yml, persisted in embedded SQLite (sqlite-nio).
        .target(
            name: "ArgusAdmin",
            dependencies: [
                "ArgusConfig", "ArgusHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ]
        ),
        // Composition root: listeners, signals, reload, graceful shutdown.
        .target(
            name: "ArgusApp",
            dependencies: [
                "ArgusConfig", "ArgusProxy", "ArgusSnapshot", "ArgusHTTP", "ArgusEvents", "ArgusStatistics", "ArgusMetrics", "ArgusLogging",
                "ArgusCompression", "ArgusRateLimit", "ArgusHealth", "ArgusAdmin", "ArgusCache", "ArgusDNS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                // the self-signed default certificates of TLS listeners (RSA 2048 and P-256)
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "ArgusTransport",
            ]
        ),
        .executableTarget(
            name: "argus",
            dependencies: [
                "ArgusApp", "ArgusConfig", "ArgusLogging", "ArgusProxy", "ArgusTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Micro-benchmarks of hot-path pieces (router lookups, event ring); results go to BENCHMARKS.md.
        .executableTarget(
            name: "argus-bench",
            dependencies: ["ArgusConfig", "ArgusRouting", "ArgusEvents", "ArgusMetrics", "ArgusCompression", "ArgusLogging", "ArgusLoop"]),
        .testTarget(name: "ArgusConfigTests", dependencies: ["ArgusConfig"]),
        .testTarget(name: "ArgusDNSTests", dependencies: ["ArgusDNS"]),
        .testTarget(name: "ArgusAdminTests", dependencies: ["ArgusAdmin", "ArgusConfig", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ArgusEventsTests", dependencies: ["ArgusEvents"]),
        .testTarget(name: "ArgusTracingTests", dependencies: ["ArgusTracing", "ArgusConfig", "ArgusEvents"]),
        .testTarget(
            name: "ArgusLoopTests",
            dependencies: [
                "ArgusLoop", "CEpoll",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]),
        .testTarget(
            name: "ArgusLoggingTests",
            dependencies: [
                "ArgusLogging", "ArgusConfig", "ArgusEvents", .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        .testTarget(name: "ArgusMetricsTests", dependencies: ["ArgusMetrics", "ArgusEvents", "ArgusConfig", "ArgusCompression"]),
        .testTarget(name: "ArgusRoutingTests", dependencies: ["ArgusRouting", "ArgusConfig"]),
        .testTarget(
            name: "ArgusAuthTests",
            dependencies: ["ArgusAuth", "ArgusConfig", "ArgusHTTP", "ArgusPluginKit", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "ArgusPluginKitTests", dependencies: ["ArgusPluginKit", "ArgusConfig"]),
        .testTarget(
            name: "ArgusCacheTests",
            dependencies: [
                "ArgusCache", "ArgusConfig", "ArgusHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "ArgusHealthTests",
            dependencies: ["ArgusHealth", "ArgusConfig", "ArgusStatistics", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ArgusCompressionTests", dependencies: ["ArgusCompression"]),
        .testTarget(
            name: "ArgusHTTP2Tests",
            dependencies: [
                "ArgusHTTP2", "ArgusHTTP", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"), .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]),
        .testTarget(name: "ArgusAppTests", dependencies: ["ArgusApp", "ArgusConfig"]),
        .testTarget(name: "ArgusRedisTests", dependencies: ["ArgusRedis", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "ArgusTrafficTests",
            dependencies: ["ArgusTraffic", "ArgusPluginKit", "ArgusConfig", "ArgusHTTP", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "ArgusRateLimitTests",
            dependencies: [
                "ArgusRateLimit", "ArgusRedis", "ArgusConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ArgusHTTPTests",
            dependencies: ["ArgusHTTP", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "ArgusTransportTests",
            dependencies: [
                "ArgusTransport", "ArgusLoop",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "ArgusSnapshotTests",
            dependencies: ["ArgusSnapshot", "ArgusConfig", "ArgusDNS", "ArgusTransport"]
        ),
        // The data path's decisions (state machines, access pipeline, body reader, timeouts) without sockets.
        .testTarget(
            name: "ArgusProxyTests",
            dependencies: [
                "ArgusProxy", "ArgusSnapshot", "ArgusConfig", "ArgusHTTP", "ArgusEvents", "ArgusPluginKit", "ArgusAuth", "ArgusTraffic", "ArgusCache", "ArgusRateLimit", "ArgusRedis",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Whole gateways on 127.0.0.1 against real upstreams, Redis, DNS, TLS peers and log receivers.
        .testTarget(
            name: "ArgusIntegrationTests",
            dependencies: [
                "ArgusProxy", "ArgusSnapshot", "ArgusTransport", "ArgusLoop", "ArgusApp", "ArgusConfig", "ArgusHTTP", "ArgusEvents", "ArgusMetrics", "ArgusLogging",
                "ArgusCompression", "ArgusRateLimit", "ArgusRedis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strict
}

// The modules on the request path skip the runtime's dynamic exclusivity checks in release
// builds: on the proxy benchmark they were ~5% of the event loop's user time (an access-set
// insert in thread-local storage per `inout` of a class property). Debug builds, which every
// test runs (ThreadSanitizer's included), keep the checks.
let requestPath: Set = ["ArgusTracing", "ArgusProxy", "ArgusHTTP2", "ArgusSnapshot", "ArgusTransport", "ArgusHTTP", "ArgusLoop", "ArgusRouting", "ArgusEvents", "ArgusPluginKit", "ArgusAuth", "ArgusTraffic", "ArgusRateLimit"]
for target in package.targets where requestPath.contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
}
