import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "@riffle/shared";
import { afterEach, describe, expect, it } from "vitest";
import type { JobRecord } from "../store/index.js";
import { TEST_JOB_ID, silentLogger, testRecord } from "../testing/fixtures.js";
import { type Model, ModelJob, settings } from "../testing/job-model.js";
import { testStores } from "../testing/test-stores.js";
import { type AutoscalerRecord, JobAutoscaler, type ScalingRealizer } from "./job-autoscaler.js";

/**
 * The autoscaler's memory across a leader change: its record goes into the job's record in the job
 * store (here the file store of a JobManager without HA; etcd stores the same JSON), and the next
 * leader's autoscaler goes on from it — the per-hour cap still counts the earlier rescales, a vertex
 * found ineffective stays blocked, and the history shows the earlier decisions. Without the record a
 * new leader would start from nothing: the control runs show what went wrong then.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "riffle-as-leader-"));
  dirs.push(dir);
  return dir;
}

/** One leader's autoscaler of the model job, its record written as JobMaster.saveAutoscalerRecord writes it. */
function leader(job: ModelJob, clock: ManualClock, dir: string, overrides: Record<string, unknown>, restored?: AutoscalerRecord) {
  const stores = testStores(dir);
  const realizer: ScalingRealizer = {
    rescale: async (_jobId, parallelisms) => job.rescaleTo(parallelisms.work!),
    obtainableSlots: () => 100,
  };
  let record: JobRecord | undefined;
  const writes: Promise<void>[] = [];
  const autoscaler = new JobAutoscaler(
    "job",
    settings(overrides),
    {
      clock,
      logger: silentLogger,
      realizer,
      persist: (r) => {
        record ??= testRecord(job.graph, clock.now());
        record.autoscaler = r;
        writes.push(stores.jobs!.put(record));
      },
    },
    restored,
  );
  return {
    autoscaler,
    stores,
    /** Ends this leadership after its writes landed. */
    async resign() {
      await Promise.all(writes);
      stores.session.active = false;
    },
  };
}

/** Ticks the autoscaler every second for `seconds`, as the Autoscaler's timer does. */
async function run(autoscaler: JobAutoscaler, job: ModelJob, clock: ManualClock, seconds: number): Promise<void> {
  for (let s = 0; s < seconds; s++) {
    job.step(clock.now());
    autoscaler.tick(job);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1000);
  }
}

/** The next leader reads the job's record from the store, as Dispatcher.recover does. */
async function recovered(dir: string): Promise<AutoscalerRecord | undefined> {
  return (await testStores(dir).jobs!.get(TEST_JOB_ID))?.autoscaler;
}

describe("the autoscaler across a leader change", () => {
  it("keeps counting the rescales of the last hour against job.autoscaler.scaling.max-per-hour, and its history", async () => {
    const dir = tempDir();
    // 100/s, then 400/s from 5 min, then 1500/s from 20 min: two load steps, two scale-ups wanted.
    const model: Model = { arrival: (t) => (t < 300 ? 100 : t < 1200 ? 400 : 1500), perSubtask: 100, parallelism: 2 };
    const cap = { "job.autoscaler.scaling.max-per-hour": 1 };

    const clock = new ManualClock(0);
    const job = new ModelJob(model, clock);
    const first = leader(job, clock, dir, cap);
    await run(first.autoscaler, job, clock, 18 * 60);
    expect(first.autoscaler.history.map((e) => e.type)).toEqual(["scaled"]);
    const scaledTo = job.parallelism;
    await first.resign();

    // A new leader takes the job over with what the store holds, and the load steps up again.
    const restored = await recovered(dir);
    expect(restored).toMatchObject({ counts: { rescales: 1 }, rescaleTimes: [expect.any(Number)], history: [{ type: "scaled" }] });
    const second = leader(job, clock, dir, cap, restored);
    await run(second.autoscaler, job, clock, 12 * 60);
    expect(job.parallelism).toBe(scaledTo);
    expect(second.autoscaler.history.map((e) => e.type)).toEqual(["scaled", "skipped"]);
    expect(second.autoscaler.history[1]!.message).toMatch(/1 rescales in the last hour reached job.autoscaler.scaling.max-per-hour/);
    expect(second.autoscaler.status(job.graph).counts).toEqual({ rescales: 1, failures: 0, skipped: 1 });

    // Control: a new leader without the record (the defect) rescales a second time within the hour.
    const clock2 = new ManualClock(0);
    const f = new ModelJob(model, clock2);
    const a = leader(f, clock2, tempDir(), cap);
    await run(a.autoscaler, f, clock2, 18 * 60);
    const b = leader(f, clock2, tempDir(), cap);
    await run(b.autoscaler, f, clock2, 12 * 60);
    expect(b.autoscaler.history.map((e) => e.type)).toEqual(["scaled"]);
    expect(f.parallelism).toBeGreaterThan(scaledTo);
  });

  it("keeps a vertex found ineffective blocked from further scale-ups", async () => {
    const dir = tempDir();
    // Work cannot go faster than 200/s in all, whatever its parallelism.
    const model: Model = { arrival: (t) => (t < 300 ? 100 : 400), total: 200, parallelism: 2 };
    const clock = new ManualClock(0);
    const job = new ModelJob(model, clock);
    const first = leader(job, clock, dir, {});
    await run(first.autoscaler, job, clock, 40 * 60);
    expect(first.autoscaler.history.map((e) => e.type)).toEqual(["scaled", "ineffective"]);
    const blockedAt = job.parallelism;
    await first.resign();

    const restored = await recovered(dir);
    expect(restored!.ineffective).toEqual(["work"]);
    const second = leader(job, clock, dir, {}, restored);
    await run(second.autoscaler, job, clock, 70 * 60);
    expect(job.parallelism).toBe(blockedAt);
    expect(second.autoscaler.status(job.graph).vertices[1]!.scaleUpBlocked).toBe(true);
    expect(second.autoscaler.history.map((e) => e.type)).toEqual(["scaled", "ineffective"]);

    // Control: without the record, the next leader scales the same vertex up again.
    const clock2 = new ManualClock(0);
    const f = new ModelJob(model, clock2);
    const a = leader(f, clock2, tempDir(), {});
    await run(a.autoscaler, f, clock2, 40 * 60);
    const b = leader(f, clock2, tempDir(), {});
    await run(b.autoscaler, f, clock2, 70 * 60);
    expect(f.parallelism).toBeGreaterThan(blockedAt);
  });
});
