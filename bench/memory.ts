/**
 * Memory per TaskManager under large records (decision record 0006): the e2e job
 * `e2e/jobs/large-records.ts` (unbounded datagen of records of 100 B, 1 MB or 10 MB → keyBy → a sink
 * taking 3 records/s per subtask, p=2 on 2 TaskManagers of one slot, default network memory 64 MiB),
 * run for 30 s per size. Reported: each TaskManager's resident memory (RSS), the median over the last
 * 20 s of one-second samples (steady state) and the maximum, beside the same TaskManagers' RSS while
 * idle, measured in the same run just before. The aim is the bound the e2e test holds every
 * TaskManager to: 200 MiB + network memory + 20 × the record size.
 */
import { fileURLToPath } from "node:url";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { metricValue, startCluster, type TestCluster } from "./riffle.js";
import { median } from "./stats.js";

const MB = 1024 * 1024;
const NETWORK = 64 * MB;
const JOB = fileURLToPath(new URL("../e2e/jobs/large-records.ts", import.meta.url));

async function rssOf(cluster: TestCluster): Promise<number[]> {
  return Promise.all(cluster.taskmanagers.map(async (tm) => metricValue(await cluster.metrics(tm), "riffle_process_resident_memory_bytes") ?? 0));
}

async function sample(cluster: TestCluster, seconds: number): Promise<number[][]> {
  const samples: number[][] = [];
  for (let s = 0; s < seconds; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(await rssOf(cluster));
  }
  return samples;
}

export const memory: Benchmark = {
  name: "memory",
  results: "memory",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const seconds = ctx.quick ? 8 : 30;
    const steady = ctx.quick ? 4 : 20;
    const cluster = await startCluster({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 1 } }, ctx.profileDir && `${ctx.profileDir}/memory`);
    const out: Measured[] = [];
    try {
      // Idle: the TaskManagers with their slot workers started and nothing running.
      const idle = Math.max(...(await sample(cluster, 5)).flat());
      ctx.log(`idle RSS ${(idle / MB).toFixed(0)} MiB`);
      for (const [label, size] of [
        ["100 B", 100],
        ["1 MB", MB],
        ["10 MB", 10 * MB],
      ] as const) {
        const jobId = await cluster.submit(JOB, { args: ["--sizes", String(size), "--rate", "3"] });
        await cluster.waitForJob(jobId, (j) => j.state === "RUNNING" && j.vertices[1]!.metrics["read-records"] > 0, 60_000);
        const samples = await sample(cluster, seconds);
        const job = await cluster.job(jobId);
        if (job.state !== "RUNNING") throw new Error(`the ${label} job is ${job.state}: ${JSON.stringify(job.failure)}`);
        await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
        await cluster.waitForStatus(jobId, "CANCELED");
        const perTm = cluster.taskmanagers.map((_, i) => samples.slice(-steady).map((s) => s[i]!));
        const steadyRss = Math.max(...perTm.map((s) => median(s)));
        const maxRss = Math.max(...samples.flat());
        ctx.log(
          `${label}: steady ${(steadyRss / MB).toFixed(0)} MiB, max ${(maxRss / MB).toFixed(0)} MiB, ${job.vertices[1]!.metrics["read-records"]} records to the sink`,
        );
        out.push({
          benchmark: "memory",
          metric: `RSS, ${label} records`,
          title: `RSS per TaskManager, ${label} records into a slow sink (steady state; network memory 64 MiB)`,
          value: steadyRss / MB,
          unit: "MiB",
          baseline: { name: "idle TaskManager", value: idle / MB },
          better: "lower",
          aim: { max: (200 * MB + NETWORK + 20 * size) / MB },
          parameters: {
            recordBytes: size,
            networkMemoryMiB: NETWORK / MB,
            maxRssMiB: Math.round(maxRss / MB),
            seconds,
            sinkRecords: job.vertices[1]!.metrics["read-records"],
          },
          samples: { value: samples.map((s) => Math.max(...s) / MB), baseline: [idle / MB] },
        });
      }
    } finally {
      await cluster.stop();
    }
    return out;
  },
};
