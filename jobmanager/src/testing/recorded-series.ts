import { readFileSync } from "node:fs";
import { type JobGraph, ManualClock, RiffleError, loadConfig } from "@riffle/shared";
import type { MetricsSample, VertexSample } from "../autoscaler/algorithm.js";
import type { AutoscaledJob, AutoscalerEvent, ScalingRealizer } from "../autoscaler/job-autoscaler.js";
import { JobAutoscaler } from "../autoscaler/job-autoscaler.js";
import { resolveAutoscalerSettings } from "../autoscaler/settings.js";
import { silentLogger } from "./fixtures.js";

/**
 * Metric series recorded on a real cluster (bench/dev/record-autoscaler-series.ts, from the
 * JobManager's `RIFFLE_DEBUG=autoscaler-input` lines), and their replay through a JobAutoscaler with
 * a manual clock.
 *
 * A fixture holds, for every tick of the real JobAutoscaler, what it read of the job: status, when
 * it last became RUNNING, whether a stop was under way, each vertex's parallelism, and the metric
 * sample when it asked for one. Times are milliseconds from the first tick; vertex ids are
 * shortened to v0, v1, … in graph order. After a rescale the recording goes on with what the real
 * cluster produced at the new parallelism, so a replay checks the autoscaler's reaction to its
 * own rescale too (stabilization, window, ineffective scaling).
 */
export interface SeriesFixture {
  case: string;
  /** What the run was: the trace, the job, the cluster. */
  what: string;
  recorded: string;
  /** The job's graph at its first tick, without operators; parallelism per tick is in `ticks`. */
  graph: Omit<JobGraph, "name" | "bufferTimeoutMs" | "functionCount" | "vertices"> & {
    vertices: Array<Omit<JobGraph["vertices"][number], "operators">>;
  };
  ticks: SeriesTick[];
  /** When each rescale the real autoscaler asked for ended: the time its promise settled. */
  outcomes: Array<{ t: number; type: "scaled" | "failed"; vertices: Array<{ vertexId: string; from: number; to: number }>; message: string }>;
  /** The real autoscaler's history (times from the first tick), for comparison. */
  history: Array<{ t: number; type: AutoscalerEvent["type"]; message: string }>;
}

/**
 * One tick. `status` absent: RUNNING. `since`: when the job last became RUNNING. `p`: each vertex's
 * parallelism, in graph order. `sample` absent: the autoscaler did not ask; null: none was ready;
 * otherwise `[at, ...vertices]`, each vertex `[inputRate, outputRate, busyMsPerSecond,
 * backPressuredMsPerSecond, pendingRecords|null, recordsIn, recordsOut, countedAt]` (`[…5]` when
 * the counters were missing). `slots`, `hold`: the realizer's answers when it was asked.
 */
export interface SeriesTick {
  t: number;
  status?: AutoscaledJob["status"];
  since: number | null;
  stop?: true;
  p: number[];
  sample?: [number, ...VertexRow[]] | null;
  slots?: number;
  hold?: string | null;
}

export type VertexRow = [number, number, number, number, number | null, number?, number?, number?];

export function encodeVertex(v: VertexSample, t0: number): VertexRow {
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const row: VertexRow = [r(v.inputRate), r(v.outputRate), r(v.busyTimeMsPerSecond), r(v.backPressuredTimeMsPerSecond), v.pendingRecords ?? null];
  if (v.counts) row.push(v.counts.recordsIn, v.counts.recordsOut, v.counts.at - t0);
  return row;
}

function decodeSample(row: [number, ...VertexRow[]], ids: string[]): MetricsSample {
  const [at, ...vertices] = row;
  const out: Record<string, VertexSample> = {};
  vertices.forEach((v, i) => {
    out[ids[i]!] = {
      inputRate: v[0],
      outputRate: v[1],
      busyTimeMsPerSecond: v[2],
      backPressuredTimeMsPerSecond: v[3],
      pendingRecords: v[4] ?? undefined,
      counts: v[5] === undefined ? undefined : { recordsIn: v[5], recordsOut: v[6]!, at: v[7]! },
    };
  });
  return { at, vertices: out };
}

export function loadFixture(name: string): SeriesFixture {
  return JSON.parse(readFileSync(new URL(`../autoscaler/fixtures/${name}.json`, import.meta.url), "utf8")) as SeriesFixture;
}

export interface RecordedReplay {
  autoscaler: JobAutoscaler;
  /** Rescales the replayed autoscaler asked for: when, and vertex id → parallelism. */
  rescales: Array<{ at: number; parallelisms: Record<string, number> }>;
  events: (type?: AutoscalerEvent["type"]) => AutoscalerEvent[];
  /** Where the replay left the recording: the autoscaler did what the real one did not (the recording has nothing to follow with). */
  diverged: { at: number; why: string } | undefined;
  /** The job as of the last tick replayed. */
  graph: JobGraph;
}

/**
 * Replays a recording tick by tick through a new JobAutoscaler with the job's recorded settings
 * (`settings` overrides some). A rescale the recording also has settles when the real one did;
 * one it does not have ends the replay (`diverged`), as does asking for a sample the real
 * autoscaler did not take.
 */
export async function replayRecorded(fixture: SeriesFixture, settings: Record<string, unknown> = {}): Promise<RecordedReplay> {
  const ids = fixture.graph.vertices.map((v) => v.id);
  const graphAt = (p: number[]): JobGraph => ({
    name: fixture.case,
    bufferTimeoutMs: 100,
    functionCount: 0,
    ...fixture.graph,
    vertices: fixture.graph.vertices.map((v, i) => ({ ...v, parallelism: p[i]!, operators: [] })),
  });
  const resolved = resolveAutoscalerSettings(loadConfig({ env: {}, file: "/dev/null", overrides: {} }), {
    autoscaler: { ...fixture.graph.autoscaler, ...settings } as JobGraph["autoscaler"],
  });
  const clock = new ManualClock(fixture.ticks[0]!.t);
  let tick = fixture.ticks[0]!;
  let diverged: RecordedReplay["diverged"];
  const diverge = (why: string) => {
    diverged ??= { at: clock.now(), why };
  };
  const rescales: RecordedReplay["rescales"] = [];
  let pending: { outcome: SeriesFixture["outcomes"][number]; settle: () => void } | undefined;
  const realizer: ScalingRealizer = {
    rescale: (_jobId, parallelisms) => {
      const at = clock.now();
      rescales.push({ at, parallelisms });
      const outcome = fixture.outcomes.find((o) => o.t > at);
      const same =
        outcome !== undefined &&
        fixture.ticks.filter((t) => t.t > at && t.t < outcome.t).every((t) => t.sample === undefined) &&
        outcome.vertices.length === Object.keys(parallelisms).length &&
        outcome.vertices.every((v) => parallelisms[v.vertexId] === v.to);
      if (!same) {
        diverge(`rescaled ${JSON.stringify(parallelisms)} where the recorded autoscaler did not`);
        return new Promise<void>(() => {});
      }
      return new Promise<void>((resolve, reject) => {
        pending = { outcome, settle: outcome.type === "scaled" ? resolve : () => reject(new RiffleError("INTERNAL", outcome.message)) };
      });
    },
    // Asked only when the autoscaler would rescale; where the real one was not asked, the replay diverges at the rescale anyway.
    obtainableSlots: () => tick.slots ?? 1000,
    providerHold: () => tick.hold ?? undefined,
  };
  const autoscaler = new JobAutoscaler("job", resolved, { clock, logger: silentLogger, realizer });
  const settle = async (until: number) => {
    while (pending && pending.outcome.t <= until) {
      const p = pending;
      pending = undefined;
      clock.advance(p.outcome.t - clock.now());
      p.settle();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  for (const t of fixture.ticks) {
    await settle(t.t);
    clock.advance(t.t - clock.now());
    tick = t;
    const view: AutoscaledJob = {
      id: "job",
      name: fixture.case,
      status: t.status ?? "RUNNING",
      graph: graphAt(t.p),
      runningSince: t.since ?? undefined,
      stopInProgress: t.stop === true,
      sample: () => {
        if (t.sample === undefined) {
          diverge("asked for a sample where the recorded autoscaler did not");
          return undefined;
        }
        return t.sample === null ? undefined : decodeSample(t.sample, ids);
      },
    };
    autoscaler.tick(view);
    // Let a rescale's promise be taken up before the next tick, as between the real timer's ticks.
    await new Promise((resolve) => setImmediate(resolve));
    if (diverged) break;
  }
  return {
    autoscaler,
    rescales,
    events: (type) => autoscaler.history.filter((e) => type === undefined || e.type === type),
    diverged,
    graph: graphAt(tick.p),
  };
}
