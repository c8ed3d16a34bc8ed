// argus-bench: micro-benchmarks of Argus's hot-path pieces (build with -c release).
//   swift run -c release argus-bench router
//   swift run -c release argus-bench ring
//   swift run -c release argus-bench metrics
//   swift run -c release argus-bench logs
//   swift run -c release argus-bench loop-proxy LISTEN_PORT UPSTREAM_PORT   (for bench/floor-bench.sh)
let args = CommandLine.arguments.dropFirst()
switch args.first {
case "router":
    RouterBench.run()
case "ring":
    RingBench.run()
case "metrics":
    await MetricsBench.run()
case "logs":
    LogsBench.run()
case "loop-proxy":
    let ports = args.dropFirst().compactMap { Int($0) }
    guard ports.count == 2 else {
        print("usage: argus-bench loop-proxy LISTEN_PORT UPSTREAM_PORT")
        break
    }
    try LoopProxy.run(listenPort: ports[0], upstreamPort: ports[1])
default:
    print("usage: argus-bench router | ring | metrics | logs | loop-proxy LISTEN_PORT UPSTREAM_PORT")
}
