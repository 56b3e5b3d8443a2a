/**
 * Preloaded into cluster processes by `bench/run.ts --profile` (NODE_OPTIONS=--require ...; Node 20
 * refuses --cpu-prof there): records V8 CPU profiles under $RIFFLE_BENCH_PROFILE_DIR (open them in
 * Chrome DevTools or speedscope).
 *
 * - The main thread writes <argv[2]>-<pid>.cpuprofile when the process exits. Profiler.stop answers
 *   synchronously on the main thread, so this works in an 'exit' handler.
 * - NODE_OPTIONS reaches worker threads too (a TaskManager's slot workers), but they are terminated,
 *   and a terminated worker runs no 'exit' handler: a worker writes a profile of every
 *   $RIFFLE_BENCH_PROFILE_WINDOW_MS (default 5000) instead, as
 *   <argv[2]>-<pid>-worker<threadId>-<n>.cpuprofile, each covering its own window. Windows in which
 *   the worker was idle are skipped.
 */
const inspector = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { isMainThread, threadId } = require("node:worker_threads");

const dir = process.env.RIFFLE_BENCH_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable");
  // 100 µs sampling by default ($RIFFLE_BENCH_PROFILE_INTERVAL_US): finer than V8's 1 ms, as the loops
  // profiled run for seconds only (it slows them several times; 1000 keeps them near full speed).
  session.post("Profiler.setSamplingInterval", { interval: Number(process.env.RIFFLE_BENCH_PROFILE_INTERVAL_US ?? 100) });
  session.post("Profiler.start");
  const name = process.argv[2] ?? "node";
  if (isMainThread) {
    process.on("exit", () => {
      session.post("Profiler.stop", (err, result) => {
        if (!err) writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
      });
    });
  } else {
    const windowMs = Number(process.env.RIFFLE_BENCH_PROFILE_WINDOW_MS ?? 5000);
    let n = 0;
    setInterval(() => {
      session.post("Profiler.stop", (err, result) => {
        if (!err && busy(result.profile)) {
          writeFileSync(join(dir, `${name}-${process.pid}-worker${threadId}-${n++}.cpuprofile`), JSON.stringify(result.profile));
        }
        session.post("Profiler.start");
      });
    }, windowMs).unref();
  }
}

/** More than a tenth of the samples outside "(idle)" and "(program)". */
function busy(profile) {
  const idle = new Set(profile.nodes.filter((p) => p.callFrame.functionName === "(idle)" || p.callFrame.functionName === "(program)").map((p) => p.id));
  let active = 0;
  for (const s of profile.samples) if (!idle.has(s)) active++;
  return active > profile.samples.length / 10;
}
