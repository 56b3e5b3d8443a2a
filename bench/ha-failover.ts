/**
 * Benchmark — JobManager failover end to end (issue 10): three JobManagers campaign on one etcd
 * member (Debian's etcd-server, default raft timing) with the default lease TTL, two TaskManagers
 * follow the leader, and jobs run. Each round SIGKILLs the leading JobManager and times, from the
 * kill:
 *   - elected: the standby's "granted leadership" log record (the same machine's clock): the etcd
 *     election alone, measured in the same run as the baseline;
 *   - running: every job RUNNING again with all its subtasks running, as the new leader's REST API
 *     reports (polled every 50 ms): the election, the recovery of the jobs from etcd, the
 *     TaskManagers re-registering with the new leader, and the redeployment from the latest checkpoint.
 * The dead JobManager is then started again (as a standby) so that three campaign in every round.
 *
 * The jobs are e2e/jobs/exactly-once.ts at parallelism 1 (keyed state in LevelDB, the exactly-once
 * file sink), unbounded. Phases: 1 job (10 rounds), then 10 jobs (3 rounds), each job at
 * 1 000 records/s with a checkpoint every 500 ms: how failover grows with the jobs to take over.
 * `RIFFLE_BENCH_HA_JOBS=25,50` adds phases of that many *small* jobs (100 records/s, a checkpoint
 * every 5 s: 50 jobs checkpointing every 500 ms would be 100 checkpoints a second, more than two
 * cores carry beside the jobs) on TaskManagers of at most 10 slots each (a TaskManager of 25 slots
 * starts 25 worker threads at once, which on this 2-core machine took over a minute under load).
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@riffle/shared";
import type { MultipleJobsDetails } from "@riffle/shared/rest-api";
import { EtcdCluster } from "../e2e/harness/etcd.js";
import { HaTestCluster } from "../e2e/harness/ha-cluster.js";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { median } from "./stats.js";

const ROUND_DEADLINE_MS = 120_000;

interface Round {
  electedMs: number;
  runningMs: number;
}

/** Resolves once every job of `jobIds` is RUNNING with all its tasks running, as the leader reports it. */
async function allJobsRunning(cluster: HaTestCluster, jobIds: ReadonlySet<string>, deadline: number): Promise<void> {
  for (;;) {
    const { body } = await cluster.rest<MultipleJobsDetails>("GET", "/jobs/overview");
    const ours = body.jobs.filter((j) => jobIds.has(j.jid));
    if (ours.length === jobIds.size && ours.every((j) => j.state === "RUNNING" && j.tasks.running === j.tasks.total)) return;
    if (Date.now() > deadline) throw new Error(`not every job RUNNING within ${ROUND_DEADLINE_MS} ms: ${JSON.stringify(ours.map((j) => [j.state, j.tasks]))}`);
    // The REST API is the only signal of a job running again outside the cluster.
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Phase {
  jobs: number;
  rounds: number;
  /** Records/s of each job. */
  rate: number;
  checkpointIntervalMs: number;
}

/** Two TaskManagers, or as many of 10 slots as the jobs need. */
function taskManagers(jobs: number): { taskmanagers: number; slots: number } {
  const slots = Math.max(2, Math.min(10, Math.ceil(jobs / 2)));
  return { taskmanagers: Math.max(2, Math.ceil(jobs / slots)), slots };
}

async function phase({ jobs, rounds, rate, checkpointIntervalMs }: Phase, ctx: BenchmarkContext): Promise<Round[]> {
  const etcd = await EtcdCluster.start();
  const { taskmanagers, slots } = taskManagers(jobs);
  const cluster = await HaTestCluster.startHa({
    etcd,
    jobmanagers: 3,
    taskmanagers,
    taskmanager: { "taskmanager.slots": slots },
  });
  try {
    const jobIds = new Set<string>();
    for (let i = 0; i < jobs; i++) {
      const out = join(cluster.dir, `out-${i}`);
      jobIds.add(
        await cluster.submit("e2e/jobs/exactly-once.ts", {
          parallelism: 1,
          name: `failover-${i}`,
          args: ["--out", out, "--count", "1000000000", "--rate", String(rate), "--backend", "leveldb", "--checkpoint-interval", String(checkpointIntervalMs)],
        }),
      );
    }
    await allJobsRunning(cluster, jobIds, Date.now() + ROUND_DEADLINE_MS);
    const out: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      // A checkpoint or two under this leader first, at a different point of the keep-alive cycle each round.
      await new Promise((r) => setTimeout(r, 1_000 + ((round * 317) % 1_000)));
      const leader = await cluster.leader();
      const others = cluster.jobmanagers.filter((jm) => jm !== leader);
      const logged = new Map(others.map((jm) => [jm, jm.process.logs.length]));
      const killedAt = Date.now();
      const dead = await cluster.killLeader();
      await allJobsRunning(cluster, jobIds, killedAt + ROUND_DEADLINE_MS);
      const runningMs = Date.now() - killedAt;
      const next = await cluster.leader();
      const granted = next.process.logs.slice(logged.get(next) ?? 0).find((l) => l.msg === "granted leadership");
      const electedMs = granted ? Number(granted.time) - killedAt : Number.NaN;
      out.push({ electedMs, runningMs });
      ctx.log(`${jobs} job(s), round ${round + 1}: kill → elected ${electedMs} ms, kill → every job running ${runningMs} ms`);
      await cluster.replace(dead);
    }
    return out;
  } finally {
    await cluster.stop();
    await etcd.close();
  }
}

export const haFailover: Benchmark = {
  name: "ha-failover",
  results: "ha",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const config = loadConfig();
    const extra = (process.env.RIFFLE_BENCH_HA_JOBS ?? "")
      .split(",")
      .filter((n) => n.trim() !== "")
      .map((n): Phase => ({ jobs: Number(n), rounds: 3, rate: 100, checkpointIntervalMs: 5_000 }));
    const standard = { rate: 1_000, checkpointIntervalMs: 500 };
    const phases: Phase[] = ctx.quick
      ? [{ jobs: 1, rounds: 2, ...standard }]
      : [{ jobs: 1, rounds: Math.max(10, ctx.runs), ...standard }, { jobs: 10, rounds: 3, ...standard }, ...extra];
    const rows: Measured[] = [];
    for (const p of phases) {
      const { jobs, rounds } = p;
      const load = loadavg()[0]!;
      const samples = await phase(p, ctx);
      const running = samples.map((s) => s.runningMs);
      const elected = samples.map((s) => s.electedMs);
      const parameters = {
        jobs,
        rounds,
        jobmanagers: 3,
        ...taskManagers(jobs),
        recordsPerSecondPerJob: p.rate,
        checkpointIntervalMs: p.checkpointIntervalMs,
        leaseTtlMs: config["high-availability.etcd.lease-ttl"],
        heartbeatTimeoutMs: config["heartbeat.timeout"],
        loadAvg1m: +load.toFixed(2),
      };
      const what = `${jobs} job${jobs === 1 ? "" : "s"}${p.rate === standard.rate ? "" : ` (${p.rate} records/s, a checkpoint every ${p.checkpointIntervalMs / 1000} s)`}`;
      rows.push(
        {
          benchmark: "ha-failover",
          metric: `${jobs} jobs kill to running median`,
          title: `JobManager failover, ${what}: kill -9 of the leader → every job RUNNING under the new leader, median of ${rounds}`,
          value: median(running),
          unit: "ms",
          baseline: { name: "kill → standby elected (etcd election alone), median", value: median(elected) },
          better: "lower",
          ...(jobs === 1 ? { aim: { max: 5_000 } } : {}),
          parameters,
          samples: { value: running, baseline: elected },
        },
        {
          benchmark: "ha-failover",
          metric: `${jobs} jobs kill to running max`,
          title: `JobManager failover, ${what}: kill -9 of the leader → every job RUNNING under the new leader, max of ${rounds}`,
          value: Math.max(...running),
          unit: "ms",
          baseline: { name: "kill → standby elected (etcd election alone), max", value: Math.max(...elected) },
          better: "lower",
          parameters,
          samples: { value: running, baseline: elected },
        },
      );
    }
    return rows;
  },
};
