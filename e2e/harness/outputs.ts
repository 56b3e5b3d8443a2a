import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestCluster } from "./cluster.js";

/** Committed lines of the exactly-once file sink: visible files only (in-progress ones start with a dot), sorted. */
export function committedLines(dir: string): string[] {
  const lines: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith(".")) continue;
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) if (line) lines.push(line);
  }
  return lines.sort();
}

/**
 * What a failure-free run of a keyed count (e2e/jobs/savepoint-count.ts) commits, sorted as
 * committedLines: (k, 1), ..., (k, n_k) for every key k, `count` records spread over `keys` keys.
 */
export function keyedCountLines(count: number, keys: number): string[] {
  const lines: string[] = [];
  for (let k = 0; k < keys; k++) {
    const n = Math.floor(count / keys) + (k < count % keys ? 1 : 0);
    for (let i = 1; i <= n; i++) lines.push(JSON.stringify([k, i]));
  }
  return lines.sort();
}

/** A seeded generator: kill schedules are random but repeatable. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** GET /jobs/:id/checkpoints, which must answer 200. */
export async function checkpointStats<S>(cluster: TestCluster, jobId: string): Promise<S> {
  const res = await cluster.rest<S>("GET", `/jobs/${jobId}/checkpoints`);
  if (res.status !== 200) throw new Error(`GET /jobs/${jobId}/checkpoints answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls the job's checkpoint statistics until `predicate` holds, with a deadline. */
export async function waitForCheckpoints<S>(cluster: TestCluster, jobId: string, predicate: (s: S) => boolean, timeoutMs = 30_000): Promise<S> {
  const deadline = Date.now() + timeoutMs;
  let last: S | undefined;
  while (Date.now() < deadline) {
    last = await checkpointStats<S>(cluster, jobId);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`checkpoints of job ${jobId} did not get there within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}
