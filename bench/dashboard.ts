/**
 * Benchmark 9 — the web dashboard (1 JobManager + 2 TaskManagers of 2 slots each, Debian's Chromium
 * driven by playwright-core). The JobManager knows 200 finished jobs (e2e/jobs/count-to.ts, 10 records
 * each) and runs bench/jobs/wide-graph.ts: 30 vertices at parallelism 1, 1 000 records/s.
 *
 * Job page load: a fresh tab opens `/#/jobs/<id>` of the 30-vertex job; measured from the navigation's
 * start to the first frame showing the job graph with its vertices' measured rates (the first
 * meaningful paint). Baseline in the same tab: its first contentful paint (the page shell before any
 * REST answer). Median of the runs; the first run loads the assets cold, later ones from the cache.
 *
 * JobManager CPU for live updates: the JobManager's CPU time (utime + stime of /proc/<pid>/stat)
 * over a fixed window with no dashboard open, then with 10 tabs on the job page (each polling every
 * `web.refresh-interval`, 2 s), alternating; reported as % of one core, medians of the runs. The
 * ratio is 10 dashboards / none.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { bundleJob } from "@riffle/cli";
import type { SubmitJobResponse } from "@riffle/shared/rest-api";
import type { Page } from "playwright-core";
import { REPO_ROOT, TestBrowser } from "../e2e/harness/index.js";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { allRunning, benchJob, cancelJob, pollJob, sleep, startCluster, type TestCluster } from "./riffle.js";
import { median } from "./stats.js";

const FINISHED_JOBS = 200;
const DASHBOARDS = 10;
const RATE = 1_000;

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms on Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // After "pid (comm) ": state is field 3, utime 14 and stime 15 of the whole line.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function cpuPercent(pid: number, windowMs: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(windowMs);
  return ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
}

/** Submits the 200 small jobs, two at a time, and waits for each to finish. */
async function fillHistory(cluster: TestCluster, count: number, log: (m: string) => void): Promise<void> {
  const bundle = Buffer.from(await bundleJob(join(REPO_ROOT, "e2e/jobs/count-to.ts"))).toString("base64");
  let done = 0;
  const worker = async () => {
    while (done < count) {
      done++;
      const res = await cluster.rest<SubmitJobResponse>("POST", "/jobs", { bundle, name: `small-${done}`, args: ["--count", "10"] });
      if (res.status !== 202) throw new Error(`submit failed with ${res.status}: ${JSON.stringify(res.body)}`);
      await cluster.waitForStatus(res.body.jobid, "FINISHED", 60_000);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 2 }, worker));
  log(`${count} finished jobs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Opens the job page in a fresh tab; resolves with [meaningful paint, first contentful paint] in ms from navigation start. */
async function loadJobPage(browser: TestBrowser, url: string, vertexCount: number): Promise<{ page: Page; meaningful: number; fcp: number }> {
  const page = await browser.page();
  await page.goto(url, { waitUntil: "commit" });
  // Checked every animation frame: the time of the first frame that shows every vertex with its rates.
  const meaningful = await page.waitForFunction(
    (n) => {
      // Runs in the page (the benchmark's tsconfig has no DOM types).
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document;
      const rates = Array.from(doc.querySelectorAll("[data-testid$='-rates']"));
      if (rates.length < n) return false;
      for (const r of rates) if (!/in \d/.test(r.textContent ?? "")) return false;
      return performance.now();
    },
    vertexCount,
    { polling: "raf", timeout: 60_000 },
  );
  const fcp = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? -1);
  return { page, meaningful: (await meaningful.jsonValue()) as number, fcp };
}

export const dashboard: Benchmark = {
  name: "dashboard",
  results: "dashboard",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const finishedJobs = ctx.quick ? 20 : FINISHED_JOBS;
    const windowMs = ctx.quick ? 5_000 : 20_000;
    // Planning 200 jobs back to back on a shared 2-core machine: a generous plan timeout.
    const cluster = await startCluster(
      { taskmanagers: 2, taskmanager: { "taskmanager.slots": 2 }, jobmanager: { "jobmanager.plan.timeout": "60s" } },
      ctx.profileDir,
    );
    const browser = await TestBrowser.launch();
    try {
      await fillHistory(cluster, finishedJobs, ctx.log);
      const jobId = await cluster.submit(benchJob("wide-graph"), { name: "wide-graph", args: ["--rate", String(RATE)] });
      const job = await pollJob(cluster, jobId, allRunning, { everyMs: 100 });
      if (job.vertices.length !== 30) throw new Error(`wide-graph has ${job.vertices.length} vertices, expected 30`);
      // Rates need two reports of every subtask: let the history fill first.
      await sleep(6_000);
      const url = `${cluster.restUrl}/#/jobs/${jobId}`;

      const loads: Array<{ meaningful: number; fcp: number }> = [];
      for (let i = 0; i < Math.max(3, ctx.runs + 2); i++) {
        const { page, meaningful, fcp } = await loadJobPage(browser, url, job.vertices.length);
        loads.push({ meaningful, fcp });
        ctx.log(`job page load ${i + 1}: meaningful paint ${meaningful.toFixed(0)} ms, first contentful paint ${fcp.toFixed(0)} ms`);
        await page.close();
      }

      const pid = cluster.jobmanager.pid;
      const none: number[] = [];
      const ten: number[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        none.push(await cpuPercent(pid, windowMs));
        const pages = await Promise.all(Array.from({ length: DASHBOARDS }, () => loadJobPage(browser, url, job.vertices.length)));
        ten.push(await cpuPercent(pid, windowMs));
        await Promise.all(pages.map((p) => p.page.close()));
        ctx.log(`JobManager CPU: ${none.at(-1)!.toFixed(1)}% with no dashboard, ${ten.at(-1)!.toFixed(1)}% with ${DASHBOARDS}`);
      }
      if (browser.errors.length > 0) throw new Error(`the dashboard logged errors: ${browser.errors.join("; ")}`);
      await cancelJob(cluster, jobId);

      // The machine's load while measuring (other processes share its 2 cores).
      const params = { vertices: 30, jobsKnown: finishedJobs + 1, rate: RATE, refreshIntervalMs: 2_000, loadAverage1m: Number(loadavg()[0]!.toFixed(1)) };
      const meaningful = loads.map((l) => l.meaningful);
      const fcp = loads.map((l) => l.fcp);
      return [
        {
          benchmark: "dashboard",
          metric: "job page load",
          title: `Job page load to first meaningful paint (30-vertex graph with rates, ${finishedJobs + 1} jobs known)`,
          value: median(meaningful),
          unit: "ms",
          baseline: { name: "first contentful paint", value: median(fcp) },
          better: "lower",
          parameters: { ...params, runs: loads.length, coldFirstLoadMs: Math.round(meaningful[0]!) },
          samples: { value: meaningful, baseline: fcp },
        },
        {
          benchmark: "dashboard",
          metric: "jobmanager cpu",
          title: `JobManager CPU with ${DASHBOARDS} dashboards open on the job page`,
          value: median(ten),
          unit: "% of a core",
          baseline: { name: "no dashboard", value: median(none) },
          better: "lower",
          parameters: { ...params, dashboards: DASHBOARDS, windowSeconds: windowMs / 1000, runs: ctx.runs },
          samples: { value: ten, baseline: none },
        },
      ];
    } finally {
      await browser.close();
      await cluster.stop();
    }
  },
};
