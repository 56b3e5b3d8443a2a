/**
 * Benchmark 6 — recovery from a kill -9 (1 JobManager + 2 TaskManagers of one slot each: one runs the
 * job, the other is a registered spare). The job is bench/jobs/keyed-state.ts at parallelism 1 on the
 * leveldb backend: datagen rate-limited to 50k rec/s over 100k keys → count per key in a ValueState →
 * discard, checkpointing every 1 s, with the restart strategy
 * { type: "fixed-delay", attempts: 10, delayMs: 0 }.
 *
 * Each run submits the job, waits for two completed checkpoints, then sends SIGKILL to the TaskManager
 * running it and polls GET /jobs/:id every 20 ms. Measured from the kill:
 *   - to RUNNING again: the job RUNNING with numRestarts incremented and every vertex RUNNING (a task
 *     turns RUNNING after its state is restored), checked to have restored a checkpoint taken before
 *     the kill (latest.restored of the checkpoint statistics; aim ≤ 3 s);
 *   - to the first checkpoint completed after the restart (trigger + end-to-end duration of the
 *     JobManager's entry; informative).
 * Then the job is cancelled and a new spare TaskManager started for the next run.
 *
 * Baseline for context: the same job, submitted fresh to the same cluster, from POST /jobs (bundle
 * built beforehand) to every vertex RUNNING, polled the same way. The TaskManager start time (spawn
 * to registered, the harness's addTaskManager) is reported as a parameter.
 */
import type { SubmitJobResponse } from "@riffle/shared/rest-api";
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { bundleJob } from "@riffle/cli";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { allRunning, benchJob, cancelJob, checkpointDir, checkpointStatistics, pollJob, sleep, startCluster, type TestCluster } from "./riffle.js";
import { median } from "./stats.js";

const KEYS = 100_000;
const RATE = 50_000;
const INTERVAL_MS = 1_000;
const POLL_MS = 20;
const BACKEND = "leveldb";

interface Run {
  submitToRunningMs: number;
  killToRunningMs: number;
  killToCheckpointMs: number;
  restoredId: number;
  restoredStateSize: number;
  taskmanagerStartMs: number;
}

/** POST /jobs with a prepared bundle; returns the job id and the time to every vertex RUNNING. */
async function submitAndTime(cluster: TestCluster, bundle: string, args: string[]): Promise<{ jobId: string; ms: number }> {
  const t0 = performance.now();
  const res = await cluster.rest<SubmitJobResponse>("POST", "/jobs", { bundle, parallelism: 1, args });
  if (res.status !== 202) throw new Error(`submit failed with ${res.status}: ${JSON.stringify(res.body)}`);
  await pollJob(cluster, res.body.jobid, allRunning, { everyMs: POLL_MS });
  return { jobId: res.body.jobid, ms: performance.now() - t0 };
}

async function recoverOnce(cluster: TestCluster, bundle: string): Promise<Run> {
  const args = ["--backend", BACKEND, "--keys", String(KEYS), "--rate", String(RATE), "--interval", String(INTERVAL_MS), "--restart", "fixed-0"];
  const { jobId, ms: submitToRunningMs } = await submitAndTime(cluster, bundle, args);
  try {
    // Two completed checkpoints: the restore has state (all keys seen after 2 s at 50k rec/s).
    const deadline = performance.now() + 30_000;
    let stats = await checkpointStatistics(cluster, jobId);
    while (stats.counts.completed < 2) {
      if (performance.now() > deadline) throw new Error(`no two completed checkpoints within 30 s: ${JSON.stringify(stats)}`);
      await sleep(100);
      stats = await checkpointStatistics(cluster, jobId);
    }
    const before = await cluster.job(jobId);
    const vertices = await Promise.all(before.vertices.map((v) => cluster.vertex(jobId, v.id)));
    const tmIds = new Set(vertices.flatMap((v) => v.subtasks.map((s) => s["taskmanager-id"])));
    const tms = (await cluster.rest<{ taskmanagers: { id: string; pid: number }[] }>("GET", "/taskmanagers")).body.taskmanagers;
    const pids = tms.filter((t) => tmIds.has(t.id)).map((t) => t.pid);
    const victim = cluster.taskmanagers.find((p) => !p.hasExited && pids.includes(p.pid));
    if (pids.length !== 1 || !victim) throw new Error(`expected the job on one TaskManager of the harness, got ${JSON.stringify([...tmIds])} (pids ${pids})`);
    const lastCompletedId = stats.latest.completed?.id ?? 0;
    const restarts = Number(before.numRestarts);

    const killedAt = Date.now();
    const t0 = performance.now();
    victim.kill("SIGKILL");
    await pollJob(cluster, jobId, (j) => allRunning(j) && Number(j.numRestarts) > restarts, { everyMs: POLL_MS });
    const killToRunningMs = performance.now() - t0;

    // The first checkpoint triggered after the kill that completed, as the JobManager timed it.
    let first: { id: number; completedAt: number } | undefined;
    while (!first) {
      if (performance.now() - t0 > 30_000) throw new Error(`no checkpoint completed within 30 s of the kill: ${JSON.stringify(stats)}`);
      stats = await checkpointStatistics(cluster, jobId);
      const done = stats.history
        .filter((c) => c.status === "COMPLETED" && c.id > lastCompletedId && c.trigger_timestamp >= killedAt)
        .sort((a, b) => a.id - b.id)[0];
      if (done) first = { id: done.id, completedAt: done.trigger_timestamp + done.end_to_end_duration };
      else await sleep(POLL_MS);
    }
    const restored = stats.latest.restored;
    const restoredEntry = stats.history.find((c) => c.id === restored?.id);
    if (
      !restored ||
      !restoredEntry ||
      restored.restore_timestamp < killedAt ||
      restoredEntry.trigger_timestamp + restoredEntry.end_to_end_duration > killedAt
    ) {
      throw new Error(
        `the job did not restore a checkpoint completed before the kill: restored ${JSON.stringify(restored)}, its entry ${JSON.stringify(restoredEntry)}`,
      );
    }
    const restoredStateSize = restoredEntry.state_size;
    await victim.exited;
    await cancelJob(cluster, jobId);
    const t1 = performance.now();
    await cluster.addTaskManager();
    const taskmanagerStartMs = performance.now() - t1;
    return {
      submitToRunningMs,
      killToRunningMs,
      killToCheckpointMs: first.completedAt - killedAt,
      restoredId: restored.id,
      restoredStateSize,
      taskmanagerStartMs,
    };
  } catch (err) {
    await cancelJob(cluster, jobId).catch(() => {});
    throw err;
  }
}

export const recovery: Benchmark = {
  name: "recovery",
  results: "state",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const load = loadavg()[0]!;
    const dir = checkpointDir();
    const cluster = await startCluster(
      { taskmanagers: 2, config: { "state.checkpoints.dir": dir }, taskmanager: { "taskmanager.slots": 1 } },
      ctx.profileDir && `${ctx.profileDir}/recovery`,
    );
    try {
      const bundle = Buffer.from(await bundleJob(benchJob("keyed-state"))).toString("base64");
      ctx.log(`load average ${load.toFixed(2)}; ${ctx.runs} run(s)`);
      const runs: Run[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        const r = await recoverOnce(cluster, bundle);
        runs.push(r);
        ctx.log(
          `run ${run + 1}: kill → RUNNING ${r.killToRunningMs.toFixed(0)} ms, kill → checkpoint ${r.killToCheckpointMs} ms (restored #${r.restoredId}, ${r.restoredStateSize} B); fresh submit → RUNNING ${r.submitToRunningMs.toFixed(0)} ms; new TaskManager ${r.taskmanagerStartMs.toFixed(0)} ms`,
        );
      }
      const submit = runs.map((r) => r.submitToRunningMs);
      const running = runs.map((r) => r.killToRunningMs);
      const checkpoint = runs.map((r) => r.killToCheckpointMs);
      const parameters = {
        backend: BACKEND,
        keys: KEYS,
        rate: RATE,
        checkpointIntervalMs: INTERVAL_MS,
        restartStrategy: "fixed-delay, 10 attempts, 0 ms",
        pollMs: POLL_MS,
        runs: ctx.runs,
        taskmanagers: "1 + 1 spare",
        loadAvg1m: +load.toFixed(2),
        restoredStateBytes: median(runs.map((r) => r.restoredStateSize)),
        taskmanagerStartMs: Math.round(median(runs.map((r) => r.taskmanagerStartMs))),
      };
      return [
        {
          benchmark: "recovery",
          metric: "kill to running",
          title: "Recovery: kill -9 of the job's TaskManager → RUNNING again from its checkpoint (spare TaskManager registered)",
          value: median(running),
          unit: "ms",
          baseline: { name: "fresh job submit → RUNNING", value: median(submit) },
          better: "lower",
          aim: { max: 3000 },
          parameters,
          samples: { value: running, baseline: submit },
        },
        {
          benchmark: "recovery",
          metric: "kill to checkpoint",
          title: "Recovery: kill -9 → first checkpoint completed after the restart",
          value: median(checkpoint),
          unit: "ms",
          baseline: { name: "fresh job submit → RUNNING", value: median(submit) },
          better: "lower",
          parameters,
          samples: { value: checkpoint, baseline: submit },
        },
      ];
    } finally {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
