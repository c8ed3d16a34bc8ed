// argus-bench: micro-benchmarks of Argus's hot-path pieces (build with -c release).
//   swift run -c release argus-bench router
//   swift run -c release argus-bench ring
//   swift run -c release argus-bench metrics
//   swift run -c release argus-bench logs
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
default:
    print("usage: argus-bench router | ring | metrics | logs")
}
