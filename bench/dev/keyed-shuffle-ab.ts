/**
 * A/B of TaskManager settings on the keyed shuffle: two clusters (A and B, 1 JobManager + 2
 * TaskManagers of one slot each), jobs alternated between them so the host's slow drifts hit both
 * alike. Prints each run's rate and CPU per record (all threads of the cluster's processes, from
 * /proc), and the medians.
 *
 *   A='{}' B='{"taskmanager.network.floating-buffers-per-gate":32}' node --import tsx bench/dev/keyed-shuffle-ab.ts [records] [runs]
 */
import { benchJob, startCluster, timeBoundedJob } from "../riffle.js";
import { median } from "../stats.js";
import { TICK_NS, processTicks } from "./proc-threads.js";

const records = Number(process.argv[2] ?? 10_000_000);
const runs = Number(process.argv[3] ?? 7);
const configs = { A: JSON.parse(process.env.A ?? "{}"), B: JSON.parse(process.env.B ?? "{}") };
const clusters = {
  A: await startCluster({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 1, ...configs.A } }),
  B: await startCluster({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 1, ...configs.B } }),
};
try {
  const job = benchJob("keyed-shuffle");
  const run = (side: "A" | "B", n: number) =>
    timeBoundedJob(clusters[side], job, { parallelism: 2, records: n, expected: (m) => ({ sinkWrites: m, vertexRecordsIn: { "count per key": m } }) });
  for (const side of ["A", "B"] as const) for (let i = 0; i < 2; i++) await run(side, 2_000_000);
  const rates = { A: [] as number[], B: [] as number[] };
  const cpu = { A: [] as number[], B: [] as number[] };
  const pids = (side: "A" | "B") => [clusters[side].jobmanager, ...clusters[side].taskmanagers].map((p) => p.pid);
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const);
    const line: string[] = [];
    for (const side of order) {
      const before = processTicks(pids(side));
      const t = await run(side, records);
      const ns = ((processTicks(pids(side)) - before) * TICK_NS) / records;
      rates[side].push(t.recordsPerSecond);
      cpu[side].push(ns);
      line.push(`${side} ${(t.recordsPerSecond / 1e6).toFixed(2)}M ${ns.toFixed(0)} ns`);
    }
    console.log(`run ${r + 1}: ${line.join(", ")}`);
  }
  const a = median(rates.A);
  const b = median(rates.B);
  console.log(`median A ${(a / 1e6).toFixed(2)}M, B ${(b / 1e6).toFixed(2)}M, B/A ${(b / a).toFixed(3)}`);
  const ca = median(cpu.A);
  const cb = median(cpu.B);
  console.log(`median CPU per record A ${ca.toFixed(0)} ns, B ${cb.toFixed(0)} ns, B/A ${(cb / ca).toFixed(3)}`);
} finally {
  await Promise.all([clusters.A.stop(), clusters.B.stop()]);
}
