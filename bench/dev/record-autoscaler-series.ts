/**
 * Records, on a real cluster, the metric series the autoscaler's unit tests replay
 * (jobmanager/src/autoscaler/recorded-series.test.ts): the end-to-end cases of e2e/autoscaler-cases.ts
 * (step up, step down, noisy plateau, a vertex that cannot go faster), each on a JobManager whose
 * `process` provider starts the TaskManagers, with `RIFFLE_DEBUG=autoscaler-input` so that it logs,
 * per job and tick, what the JobAutoscaler read (status, parallelism, the metric sample it
 * collected). Writes jobmanager/src/autoscaler/fixtures/<case>.json.
 *
 *   npm run build && node --import tsx bench/dev/record-autoscaler-series.ts [case ...]   (about 5 min for all four)
 *
 * The series depend on the machine and its load (rates, busy times, how long a rescale takes);
 * recording again changes the numbers, and the tests assert only what must hold on any recording.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobAutoscalerInfo } from "@riffle/shared/rest-api";
import {
  COST_MS,
  INEFFECTIVE,
  STEP_DOWN,
  STEP_UP,
  TRACED_LOAD_JOB,
  type TraceCase,
  jobArgs,
  noisyPlateau,
  processProviderCluster,
} from "../../e2e/autoscaler-cases.js";
import { TestCluster } from "../../e2e/harness/index.js";
import type { AutoscalerInput } from "../../jobmanager/src/autoscaler/autoscaler.js";
import { type SeriesFixture, encodeVertex } from "../../jobmanager/src/testing/recorded-series.js";

const FIXTURES = join(import.meta.dirname, "../../jobmanager/src/autoscaler/fixtures");
const ENDED: string[] = ["FINISHED", "CANCELED", "FAILED"];
const CASES: TraceCase[] = [STEP_UP, STEP_DOWN, noisyPlateau(), INEFFECTIVE];

// Read by the JobManager this script starts (RiffleProcess passes the environment on).
process.env.RIFFLE_DEBUG = [process.env.RIFFLE_DEBUG, "autoscaler-input"].filter(Boolean).join(",");

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function record(c: TraceCase, work: string): Promise<SeriesFixture> {
  const cluster = await TestCluster.start(processProviderCluster(c, work));
  try {
    const jobId = await cluster.submit(TRACED_LOAD_JOB, { parallelism: c.parallelism, args: jobArgs(c, join(work, c.name), work) });
    const inputs = () =>
      cluster.jobmanager.logs.filter((l) => l.jobId === jobId && l.autoscalerInput !== undefined).map((l) => l.autoscalerInput as AutoscalerInput);
    if (c.sharedLock) {
      // The trace runs on long after the scale-up was found ineffective: record ten more collections, then cancel.
      await cluster.jobmanager.waitForLog((l) => l.autoscaler === "ineffective", 180_000);
      const collected = () => inputs().filter((i) => i.sample).length;
      const now = collected();
      await until(() => collected() >= now + 10, 60_000, "ten collections after the ineffective scale-up");
      await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`);
      await cluster.waitForStatus(jobId, "CANCELED", 60_000);
    } else {
      await cluster.waitForStatus(jobId, "FINISHED", 180_000);
    }
    // The tick that saw the job end.
    await until(() => inputs().some((i) => ENDED.includes(i.status)), 10_000, "a tick after the end");
    const history = (await cluster.rest<JobAutoscalerInfo>("GET", `/jobs/${jobId}/autoscaler`)).body.history;
    return toFixture(c, inputs(), history);
  } catch (err) {
    // What the JobManager did, without the input lines: why the run did not go as the case expects.
    for (const l of cluster.jobmanager.logs) if (l.autoscalerInput === undefined) console.error(JSON.stringify(l));
    throw err;
  } finally {
    await cluster.stop();
  }
}

function toFixture(c: TraceCase, all: AutoscalerInput[], history: JobAutoscalerInfo["history"]): SeriesFixture {
  // Up to the first tick that saw the job ended.
  const end = all.findIndex((i) => ENDED.includes(i.status));
  const inputs = end < 0 ? all : all.slice(0, end + 1);
  const first = inputs[0]!;
  const t0 = first.at;
  const g = first.graph;
  const vid = new Map(g.vertices.map((v, i) => [v.id, `v${i}`]));
  const eid = new Map(g.edges.map((e, i) => [e.id, `e${i}`]));
  const shape = (graph: AutoscalerInput["graph"]) => JSON.stringify({ ...graph, vertices: graph.vertices.map((v) => ({ ...v, parallelism: 0 })) });
  for (const i of inputs) {
    if (shape(i.graph) !== shape(g)) throw new Error(`the job's graph changed beyond parallelism at ${i.at - t0} ms: ${shape(i.graph)}`);
  }
  const rel = (t: number | null) => (t === null ? null : t - t0);
  return {
    case: c.name,
    what: `traced-load (e2e/jobs/traced-load.ts) with --trace ${c.trace} and ${c.costMs ?? COST_MS} ms a record, from parallelism ${c.parallelism}, on a cluster whose process provider starts TaskManagers of ${c.slotsPerTaskManager} slot(s), at most ${c.maxTaskManagers}${c.sharedLock ? "; Work's subtasks share one lock" : ""}${
      c.config
        ? `; ${Object.entries(c.config)
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")}`
        : ""
    }`,
    recorded: new Date(t0).toISOString(),
    graph: {
      maxParallelism: g.maxParallelism,
      ...(g.checkpointing ? { checkpointing: g.checkpointing } : {}),
      ...(g.autoscaler ? { autoscaler: g.autoscaler } : {}),
      vertices: g.vertices.map((v) => ({ ...v, id: vid.get(v.id)!, inputs: v.inputs.map((e) => eid.get(e)!), outputs: v.outputs.map((e) => eid.get(e)!) })),
      edges: g.edges.map((e) => ({ ...e, id: eid.get(e.id)!, source: vid.get(e.source)!, target: vid.get(e.target)! })),
    },
    ticks: inputs.map((i) => ({
      // A sample carries the JobAutoscaler's own reading of the clock for the tick (the line's may be a millisecond earlier).
      t: (i.sample ? i.sample.at : i.at) - t0,
      ...(i.status !== "RUNNING" ? { status: i.status } : {}),
      since: rel(i.runningSince),
      ...(i.stopInProgress ? { stop: true as const } : {}),
      p: i.graph.vertices.map((v) => v.parallelism),
      ...(i.sample === undefined
        ? {}
        : { sample: i.sample === null ? null : [i.sample.at - t0, ...g.vertices.map((v) => encodeVertex(i.sample!.vertices[v.id]!, t0))] }),
      ...(i.slots !== undefined ? { slots: i.slots } : {}),
      ...(i.hold !== undefined ? { hold: i.hold } : {}),
    })),
    outcomes: history
      .filter((e): e is typeof e & { type: "scaled" | "failed" } => e.type === "scaled" || e.type === "failed")
      .map((e) => ({
        t: e.time - t0,
        type: e.type,
        vertices: e.vertices.map((v) => ({ vertexId: vid.get(v.vertexId)!, from: v.from, to: v.to })),
        message: e.message,
      })),
    history: history.map((e) => ({ t: e.time - t0, type: e.type, message: e.message })),
  };
}

/** Compact JSON, one tick a line (diffs of a new recording stay readable). */
function format(f: SeriesFixture): string {
  const { ticks, ...rest } = f;
  const head = Object.entries(rest).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${head.join(",\n")},\n"ticks":[\n${ticks.map((t) => JSON.stringify(t)).join(",\n")}\n]}\n`;
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !CASES.some((c) => c.name === w));
if (unknown.length > 0) {
  console.error(`unknown case(s) ${unknown.join(", ")}; the cases: ${CASES.map((c) => c.name).join(", ")}`);
  process.exit(2);
}
mkdirSync(FIXTURES, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "riffle-record-autoscaler-"));
try {
  for (const c of CASES.filter((c) => wanted.length === 0 || wanted.includes(c.name))) {
    const started = Date.now();
    // The sink is named for its output directory, under this run's temporary one: the same name in every recording.
    const fixture = JSON.parse(JSON.stringify(await record(c, work)).replaceAll(work, "/tmp/out")) as SeriesFixture;
    const file = join(FIXTURES, `${c.name}.json`);
    writeFileSync(file, format(fixture));
    const events = fixture.history.map((e) => `${(e.t / 1000).toFixed(1)} s ${e.type}: ${e.message}`).join("; ") || "no autoscaler events";
    console.log(`${c.name}: ${fixture.ticks.length} ticks in ${((Date.now() - started) / 1000).toFixed(0)} s → ${file}\n  ${events}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
