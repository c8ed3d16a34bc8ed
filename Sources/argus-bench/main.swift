// argus-bench: micro-benchmarks of Argus's hot-path pieces (build with -c release).
//   swift run -c release argus-bench router
//   swift run -c release argus-bench ring
let args = CommandLine.arguments.dropFirst()
switch args.first {
case "router":
    RouterBench.run()
case "ring":
    RingBench.run()
default:
    print("usage: argus-bench router | ring")
}
