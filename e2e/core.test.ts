import type { JobExceptions } from "@riffle/shared/rest-api";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeBatch } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { TestCluster, metricValue } from "./harness/index.js";

/**
 * The core on real processes: a JobManager and TaskManagers started through the CLI on free ports.
 */
describe("word count on a cluster of one JobManager and two TaskManagers", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ taskmanagers: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("counts every word exactly at parallelism 2, the keyBy crossing processes", async () => {
    // A generated text whose counts are known: word w<k> appears k times.
    const expected = new Map<string, number>();
    const lines: string[] = [];
    let line: string[] = [];
    for (let k = 1; k <= 300; k++) {
      expected.set(`w${k}`, k);
      for (let j = 0; j < k; j++) {
        line.push(`w${k}`);
        if (line.length === 12) {
          lines.push(line.join(" "));
          line = [];
        }
      }
    }
    lines.push(line.join(" "));
    const input = join(cluster.dir, "words.txt");
    writeFileSync(input, `${lines.join("\n")}\n`);

    const jobId = await cluster.submit("examples/word-count.ts", { parallelism: 2, args: ["--input", input] });
    const results = (await cluster.results(jobId)) as Array<{ word: string; count: number }>;
    const totals = new Map<string, number>();
    for (const r of results) totals.set(r.word, Math.max(totals.get(r.word) ?? 0, r.count));
    expect(totals).toEqual(expected);
    // Rolling counts: one update per word occurrence.
    expect(results.length).toBe((300 * 301) / 2);

    const job = await cluster.waitForStatus(jobId, "FINISHED");
    expect(job.vertices.map((v) => v.parallelism)).toEqual([2, 2]);
    const counting = job.vertices[1]!;
    const subtasks = (await cluster.vertex(jobId, counting.id)).subtasks;
    expect(new Set(subtasks.map((s) => s["taskmanager-id"])).size).toBe(2);
    expect(subtasks.map((s) => [s.subtask, s.status, s.attempt])).toEqual([
      [0, "FINISHED", 0],
      [1, "FINISHED", 0],
    ]);
    expect(counting.metrics["read-records"]).toBe((300 * 301) / 2);

    // The end of input is the end of event time: each source sent MAX_WATERMARK, and it reached both
    // counting subtasks over their local and remote channels. Flink's shape, a value per subtask.
    type Watermarks = Array<{ id: string; value: string }>;
    const max = String(Number.MAX_SAFE_INTEGER);
    const none = String(Number.MIN_SAFE_INTEGER);
    const [source] = job.vertices;
    expect((await cluster.rest<Watermarks>("GET", `/jobs/${jobId}/vertices/${source!.id}/watermarks`)).body).toEqual([
      { id: "0.currentInputWatermark", value: none },
      { id: "0.currentOutputWatermark", value: max },
      { id: "1.currentInputWatermark", value: none },
      { id: "1.currentOutputWatermark", value: max },
    ]);
    // The counting vertex ends in its sink: its output watermark is the last one the sink saw.
    expect((await cluster.rest<Watermarks>("GET", `/jobs/${jobId}/vertices/${counting.id}/watermarks`)).body).toEqual([
      { id: "0.currentInputWatermark", value: max },
      { id: "0.currentOutputWatermark", value: max },
      { id: "1.currentInputWatermark", value: max },
      { id: "1.currentOutputWatermark", value: max },
    ]);
    const unknownVertex = await cluster.rest<{ code: string; message: string }>("GET", `/jobs/${jobId}/vertices/nope/watermarks`);
    expect({ status: unknownVertex.status, code: unknownVertex.body.code }).toEqual({ status: 404, code: "NOT_FOUND" });
    const unknownJob = await cluster.rest<{ code: string }>("GET", `/jobs/${"0".repeat(32)}/vertices/${source!.id}/watermarks`);
    expect({ status: unknownJob.status, code: unknownJob.body.code }).toEqual({ status: 404, code: "JOB_NOT_FOUND" });
  });

  it("runs the unbounded example until cancelled, then frees its slots", async () => {
    const jobId = await cluster.submit("examples/clicks-per-user.ts", { args: ["--rate", "500"], parallelism: 2 });
    await cluster.waitForStatus(jobId, "RUNNING");
    // Both TaskManagers print `<subtask>> {...}` lines for the reduce's updates.
    await Promise.all(cluster.taskmanagers.map((tm) => tm.waitForOutput(20)));
    const printed = cluster.taskmanagers.flatMap((tm) => tm.output).filter((l) => /^[12]> \{"user":"user-\d+"/.test(l));
    expect(printed.length).toBeGreaterThanOrEqual(40);

    const cancel = await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    expect(cancel.status).toBe(202);
    await cluster.waitForStatus(jobId, "CANCELED", 20_000);
    const tms = await cluster.rest<{ taskmanagers: Array<{ slotsNumber: number; freeSlots: number }> }>("GET", "/taskmanagers");
    expect(tms.body.taskmanagers.every((t) => t.freeSlots === t.slotsNumber)).toBe(true);
    for (const tm of cluster.taskmanagers) {
      const text = await cluster.metrics(tm);
      expect(metricValue(text, "riffle_task_numRecordsIn", { job_id: jobId })).toBeUndefined();
    }
  });
});

describe("flow control", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ taskmanagers: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("a sink at ~1 record/ms slows an unbounded source to its pace, with bounded memory", async () => {
    const jobId = await cluster.submit("e2e/jobs/slow-sink.ts");
    await cluster.waitForStatus(jobId, "RUNNING");
    const started = Date.now();
    const rss = async () => {
      const values = await Promise.all(
        cluster.taskmanagers.map(async (tm) => metricValue(await cluster.metrics(tm), "riffle_process_resident_memory_bytes") ?? 0),
      );
      return Math.max(...values);
    };
    // Let it settle into back-pressure, then measure memory growth over a fixed 15 s.
    await cluster.waitForJob(jobId, (j) => j.vertices[0]!.metrics.backPressuredTimeMsPerSecond > 500, 15_000);
    const rssEarly = await rss();
    await new Promise((r) => setTimeout(r, 15_000));
    const job = await cluster.job(jobId);
    const [source, sink] = job.vertices;
    const seconds = (Date.now() - started) / 1000;

    // The source emitted no more than the sink took plus what the network can hold in flight: per
    // source subtask 2 subpartitions × 10 queued buffers, per sink gate 2 × 2 exclusive + 8 floating,
    // plus a partly filled buffer per subpartition and one source batch.
    // A buffer holds at most bufferSize / (encoded bytes per record) records, the writer sizing its
    // batches by encoding them (256 before its first measurement). The job's records are {i, payload: 100 × "x"}; in a batch the codec
    // writes the keys once, so the marginal record costs the same except for i, smallest (1 byte)
    // below 128. That smallest size gives the most records per buffer, so the bound holds for any i.
    // (bytesOut / recordsOut would not do: bytesOut counts only records sent to the other TaskManager.)
    const record = (i: number) => ({ i, payload: "x".repeat(100) });
    const bytesPerRecord = encodeBatch([record(0), record(1)]).length - encodeBatch([record(0)]).length;
    const recordsPerBuffer = Math.max(256, Math.ceil((32 * 1024) / bytesPerRecord));
    const buffersInFlight = 2 * 2 * 10 + 2 * (2 * 2 + 8) + 2 * 2;
    const capacity = buffersInFlight * recordsPerBuffer + 2 * 512;
    expect(source!.metrics["write-records"]).toBeLessThanOrEqual(sink!.metrics["read-records"] + capacity);
    // The sink ran at about its pace (2 subtasks × ≤ 1000 records/s), so the source was held back.
    expect(sink!.metrics["read-records"] / seconds).toBeLessThan(2 * 1000 * 1.05);
    expect(sink!.metrics["read-records"]).toBeGreaterThan(2 * 200 * seconds * 0.5);
    // A per-second rate: one sample can dip while the source waits for the CPU, so poll for it.
    await cluster.waitForJob(jobId, (j) => j.vertices[0]!.metrics.backPressuredTimeMsPerSecond > 500, 10_000);

    const rssLate = await rss();
    expect(rssLate - rssEarly).toBeLessThan(64 * 1024 * 1024);
    expect(rssLate).toBeLessThan(400 * 1024 * 1024);

    // The TaskManager's own metric agrees.
    await vi.waitFor(
      async () => {
        const text = await cluster.metrics(cluster.taskmanagers[0]!);
        expect(metricValue(text, "riffle_task_backPressuredTimeMsPerSecond", { job_id: jobId, vertex_id: source!.id })).toBeGreaterThan(500);
      },
      { timeout: 10_000, interval: 200 },
    );
    await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
    await cluster.waitForStatus(jobId, "CANCELED");
  }, 60_000);
});

describe("checkpoints under back-pressure", () => {
  it("aligned checkpoints complete within their timeout while the sink holds the source back", async () => {
    const cluster = await TestCluster.start({ taskmanagers: 2 });
    try {
      const jobId = await cluster.submit("e2e/jobs/slow-sink.ts", { args: ["--checkpoint", "1000"] });
      await cluster.waitForJob(jobId, (j) => j.vertices[0]!.metrics.backPressuredTimeMsPerSecond > 500, 20_000);
      type Stats = {
        counts: { completed: number; failed: number };
        history: Array<{ status: string; alignment_duration: number; end_to_end_duration: number }>;
      };
      const deadline = Date.now() + 45_000;
      let stats: Stats | undefined;
      while (Date.now() < deadline) {
        stats = (await cluster.rest<Stats>("GET", `/jobs/${jobId}/checkpoints`)).body;
        if (stats.counts.completed >= 3) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(stats?.counts.completed).toBeGreaterThanOrEqual(3);
      expect(stats?.counts.failed).toBe(0);
      // Each sink subtask reads from both source subtasks: the barriers were aligned, under load.
      const done = stats!.history.filter((h) => h.status === "COMPLETED");
      expect(Math.max(...done.map((h) => h.alignment_duration))).toBeGreaterThan(0);
      expect(Math.max(...done.map((h) => h.end_to_end_duration))).toBeLessThan(60_000);
      const job = await cluster.job(jobId);
      expect(job.vertices[0]!.metrics.backPressuredTimeMsPerSecond).toBeGreaterThan(500);
      await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
      await cluster.waitForStatus(jobId, "CANCELED");
    } finally {
      await cluster.stop();
    }
  }, 90_000);
});

describe("TaskManager failure", () => {
  it("kill -9 of a TaskManager fails the job with a reason naming it, within the heartbeat timeout", async () => {
    const cluster = await TestCluster.start({ taskmanagers: 2, config: { "heartbeat.interval": "500ms", "heartbeat.timeout": "4s" } });
    try {
      const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 2 });
      await cluster.waitForJob(jobId, (j) => j.state === "RUNNING" && j.vertices[1]!.metrics["read-records"] > 100);
      const victim = cluster.taskmanagers[1]!;
      const victimId = (await victim.waitForLog((l) => l.msg === "TaskManager started")).taskmanagerId as string;
      const killedAt = Date.now();
      victim.kill("SIGKILL");
      const job = await cluster.waitForStatus(jobId, "FAILED", 4_000);
      expect(Date.now() - killedAt).toBeLessThan(4_000);
      expect(job.failure?.message).toContain(victimId);
      const exceptions = await cluster.rest<JobExceptions>("GET", `/jobs/${jobId}/exceptions`);
      expect(exceptions.body["root-exception"]).toContain(victimId);
      // The JobManager still serves: the surviving TaskManager is registered with its slot free again.
      const tms = await cluster.rest<{ taskmanagers: Array<{ freeSlots: number; slotsNumber: number }> }>("GET", "/taskmanagers");
      expect(tms.body.taskmanagers.map((t) => t.freeSlots === t.slotsNumber)).toEqual([true]);
    } finally {
      await cluster.stop();
    }
  });

  it("a frozen TaskManager (SIGSTOP, connection still open) fails the job by heartbeat timeout, naming it", async () => {
    const interval = 500;
    const timeout = 3000;
    const cluster = await TestCluster.start({ taskmanagers: 2, config: { "heartbeat.interval": `${interval}ms`, "heartbeat.timeout": `${timeout}ms` } });
    const victim = cluster.taskmanagers[1]!;
    try {
      // No checkpointing: no restart strategy applies, so losing a TaskManager fails the job.
      const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { parallelism: 2 });
      await cluster.waitForJob(jobId, (j) => j.state === "RUNNING" && j.vertices[1]!.metrics["read-records"] > 100);
      const victimId = (await victim.waitForLog((l) => l.msg === "TaskManager started")).taskmanagerId as string;
      // A stopped process keeps its sockets open: only the missing heartbeats can tell the JobManager.
      const stoppedAt = Date.now();
      victim.kill("SIGSTOP");
      // Declared lost once silent for longer than the timeout, checked every interval.
      const job = await cluster.waitForStatus(jobId, "FAILED", timeout + interval + 5_000);
      // The last heartbeat came at most one interval before the stop, so nothing earlier than this can
      // have been the timeout (a broken connection would show at once).
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(timeout - interval);
      expect(job.failure?.message).toContain(`TaskManager ${victimId} `);
      expect(job.failure?.message).toMatch(/was lost: no heartbeat for \d+ ms/);
      const exceptions = await cluster.rest<JobExceptions>("GET", `/jobs/${jobId}/exceptions`);
      expect(exceptions.body["root-exception"]).toContain(victimId);
      expect(exceptions.body["root-exception"]).toContain("no heartbeat");
      const tms = await cluster.rest<{ taskmanagers: Array<{ freeSlots: number; slotsNumber: number }> }>("GET", "/taskmanagers");
      expect(tms.body.taskmanagers.map((t) => t.freeSlots === t.slotsNumber)).toEqual([true]);
    } finally {
      // A stopped process holds a SIGTERM pending until continued: continue it so it can stop.
      victim.kill("SIGCONT");
      await cluster.stop();
    }
  }, 60_000);
});
