import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents, type NexmarkConfig } from "../examples/nexmark/generator.js";
import * as reference from "../examples/nexmark/reference.js";
import { TestCluster } from "./harness/index.js";

/**
 * Nexmark q5 and q7 at parallelism 2 on a real cluster, against the brute-force reference. The
 * in-process query tests (examples/nexmark/queries.test.ts) run every operator at parallelism 1;
 * here windows and timers see watermarks that are the minimum over several channels of real input
 * gates (two source subtasks each trailing its own out-of-order events), keyed exchanges over the
 * network, q5's counts of one window arriving from both counting subtasks, and q7's two-input
 * Q7EdgeBids joining the window max (from the parallelism-1 windowAll) with edge bids from both
 * filter subtasks.
 */

const JOB = "examples/nexmark/job.ts";
/** 250 events per second of event time: 30k events span 120 s, 12 tumbling and ~60 sliding windows; timestamps up to 2 s out of order. */
const CONFIG: Partial<NexmarkConfig> = { seed: 12, eventsPerSecond: 250, outOfOrdernessMs: 2000 };
const EVENTS = 30_000;

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.start({ taskmanagers: 2 });
});
afterAll(async () => {
  await cluster?.stop();
});

/** Runs `query` over the first EVENTS events of CONFIG at parallelism 2 and returns its collected rows. */
async function runOnCluster(query: string): Promise<unknown[]> {
  const jobId = await cluster.submit(JOB, {
    parallelism: 2,
    args: [
      "--query",
      query,
      "--events",
      String(EVENTS),
      "--rate",
      String(CONFIG.eventsPerSecond),
      "--out-of-orderness",
      String(CONFIG.outOfOrdernessMs),
      "--seed",
      String(CONFIG.seed),
      "--sink",
      "collect",
    ],
  });
  const rows = await cluster.results(jobId, 120_000);
  const job = await cluster.waitForStatus(jobId, "FINISHED", 60_000);
  // Both inputs of the job's keyed vertices really ran split over two subtasks.
  expect(job.vertices.some((v) => v.parallelism === 2)).toBe(true);
  return rows;
}

describe("Nexmark at parallelism 2 on a cluster equals the reference", () => {
  const events = generateEvents(CONFIG, 0, EVENTS);

  it("q5: hot items per sliding window, out of order", async () => {
    const expected = reference.q5(events);
    expect(expected.length).toBeGreaterThan(50);
    const rows = (await runOnCluster("q5")) as reference.Q5Row[];
    expect(reference.sortRows(rows, ["windowStart", "auction", "num", "windowEnd"])).toEqual(expected);
  }, 120_000);

  it("q7: highest bids per tumbling window, out of order", async () => {
    const expected = reference.q7(events);
    expect(expected.length).toBeGreaterThan(10);
    const rows = (await runOnCluster("q7")) as reference.Q7Row[];
    expect(reference.sortRows(rows)).toEqual(expected);
  }, 120_000);
});
