/**
 * Preloaded into cluster processes by `bench/run.ts --profile` (NODE_OPTIONS=--require ...; Node 20
 * refuses --cpu-prof there): records a V8 CPU profile and writes it to
 * $RIFFLE_BENCH_PROFILE_DIR/<argv[2]>-<pid>.cpuprofile when the process exits (open it in Chrome
 * DevTools or speedscope). Profiler.stop answers synchronously on the main thread, so this works in
 * an 'exit' handler.
 */
const inspector = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");

const dir = process.env.RIFFLE_BENCH_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable");
  // 100 µs sampling: finer than the default 1 ms, as the loops profiled run for seconds only.
  session.post("Profiler.setSamplingInterval", { interval: 100 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.argv[2] ?? "node"}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
