/**
 * Where the keyed shuffle's CPU goes in a real cluster (1 JobManager, 2 TaskManagers of one slot, as
 * bench/keyed-shuffle.ts runs it): per thread of every TaskManager, CPU time per record over a run,
 * read from /proc (Linux) before and after the job. Thread names are the kernel's (`comm`); the
 * thread that runs the most in a TaskManager besides its main thread is its slot worker.
 *
 *   node --import tsx bench/dev/keyed-shuffle-threads.ts [records] [runs]    (npm run build first)
 *   SLOTS=2 ...                  one TaskManager of two slots instead of two of one
 *   RIFFLE_DEBUG=taskmanager ... also buffers, messages and credits of the channels from outside a slot,
 *                                and each task's busy / idle / back-pressured milliseconds
 *   TM_CONFIG='{"key":value}'    TaskManager settings on top of the defaults
 *   WARMUP=<records>             records of the warm-up job (2M)
 */
import { benchJob, startCluster, timeBoundedJob } from "../riffle.js";
import { TICK_NS, threadTicks } from "./proc-threads.js";

const records = Number(process.argv[2] ?? 8_000_000);
const runs = Number(process.argv[3] ?? 2);
// PROFILE_DIR=<dir>: CPU profiles of the cluster processes (bench/profile-hook.cjs).
// SLOTS=2: one TaskManager of two slots instead of two of one.
const twoSlots = process.env.SLOTS === "2";
const settings = JSON.parse(process.env.TM_CONFIG ?? "{}") as Record<string, unknown>;
const cluster = await startCluster(
  { taskmanagers: twoSlots ? 1 : 2, taskmanager: { "taskmanager.slots": twoSlots ? 2 : 1, ...settings } },
  process.env.PROFILE_DIR,
);
try {
  const job = benchJob("keyed-shuffle");
  const run = (n: number) =>
    timeBoundedJob(cluster, job, { parallelism: 2, records: n, expected: (m) => ({ sinkWrites: m, vertexRecordsIn: { "count per key": m } }) });
  await run(Number(process.env.WARMUP ?? 2_000_000));
  const pids = [cluster.jobmanager, ...cluster.taskmanagers].map((p) => p.child.pid!);
  for (let r = 0; r < runs; r++) {
    if (process.env.IDLE_MS) await new Promise((resolve) => setTimeout(resolve, Number(process.env.IDLE_MS)));
    const before = pids.map(threadTicks);
    const timing = await run(records);
    const after = pids.map(threadTicks);
    console.log(`run ${r + 1}: ${Math.round(timing.recordsPerSecond)} rec/s (${timing.runningMs} ms running)`);
    let total = 0;
    let totalSys = 0;
    pids.forEach((pid, i) => {
      const rows: string[] = [];
      for (const [tid, a] of after[i]!) {
        const ns = ((a.ticks - (before[i]!.get(tid)?.ticks ?? 0)) * TICK_NS) / records;
        const sys = ((a.sys - (before[i]!.get(tid)?.sys ?? 0)) * TICK_NS) / records;
        total += ns;
        totalSys += sys;
        if (ns >= 1) rows.push(`${a.name}[${tid}] ${ns.toFixed(0)} (sys ${sys.toFixed(0)})`);
      }
      console.log(`  ${i === 0 ? "JobManager" : `TaskManager ${i}`} (pid ${pid}), ns CPU per record: ${rows.join(", ")}`);
    });
    // With RIFFLE_DEBUG=taskmanager the tasks log what each channel from outside their slot received.
    const channels = cluster.taskmanagers.flatMap((tm) => tm.logs.filter((l) => l.msg === "input channel closed" && l.jobId === timing.jobId));
    if (channels.length > 0) {
      const sum = (k: string) => channels.reduce((a, l) => a + Number(l[k]), 0);
      console.log(`  channels from outside the slot: ${sum("buffers")} buffers in ${sum("messages")} messages, ${sum("credits")} credits announced`);
    }
    for (const tm of cluster.taskmanagers)
      for (const l of tm.logs.filter((l) => l.msg === "task times" && l.jobId === timing.jobId))
        console.log(`  ${l.task}: busy ${l.busyMs} ms, idle ${l.idleMs} ms, back-pressured ${l.backPressuredMs} ms`);
    console.log(
      `  total ${total.toFixed(0)} ns CPU per record, of it ${totalSys.toFixed(0)} in the kernel (all threads of all processes, job start and end included)`,
    );
  }
} finally {
  await cluster.stop();
}
