import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, TestBrowser, TestCluster } from "./harness/index.js";

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against real
 * clusters: every screen is opened, every action is taken from the page, and each screen's
 * screenshot is kept under e2e/artifacts/dashboard/. No console error may appear, except the HTTP
 * refusals a test provokes on purpose.
 */

const FAST = { "heartbeat.interval": "500ms", "web.refresh-interval": "500ms" };
/** Long enough for a loaded 2-core machine; each wait ends as soon as the page shows the state. */
const SHOWN = { timeout: 30_000 };

describe("dashboard", () => {
  let cluster: TestCluster;
  let browser: TestBrowser;

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([
      TestCluster.start({ taskmanagers: 2, taskmanager: { "taskmanager.slots": 2 }, config: FAST }),
      TestBrowser.launch(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  /** Opens a screen of the dashboard (hash route) in a fresh tab. */
  async function open(route: string, expectedHttpErrors: number[] = []): Promise<Page> {
    const page = await browser.page(expectedHttpErrors);
    await page.goto(`${cluster.restUrl}/#/${route}`);
    return page;
  }

  it("shows running jobs: a graph with rising rates and a vertex turning HIGH behind a slow sink, subtasks, checkpoints; savepoint and cancel from the page", async () => {
    // Two jobs side by side: a slow sink holding its source back (no checkpoints: aligned barriers
    // would crawl through its full buffers), and a free-running job checkpointing every 500 ms.
    const [jobId, checkpointed] = await Promise.all([
      cluster.submit("e2e/jobs/slow-sink.ts", { name: "slow-sink" }),
      cluster.submit("e2e/jobs/unbounded.ts", { name: "checkpointed", parallelism: 2, args: ["--checkpoint", "500", "--rate", "1000"] }),
    ]);
    const [v1, v2] = (await cluster.waitForStatus(jobId, "RUNNING")).vertices.map((v) => v.id);
    const page = await open("");

    // Overview: the cluster and the running job.
    await expect.poll(() => page.getByTestId("card-taskmanagers").textContent(), SHOWN).toContain("2");
    // Without high availability the card says so (with etcd it names the role and the leader).
    await expect.poll(() => page.getByTestId("card-ha").textContent(), SHOWN).toContain("none");
    await page.getByRole("link", { name: "slow-sink" }).waitFor(SHOWN);
    await browser.screenshot(page, "overview");

    // Jobs list, filtered by state.
    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    await page.getByTestId(`job-row-${jobId}`).waitFor(SHOWN);
    await page.getByTestId("filter-finished").click();
    await page.getByTestId(`job-row-${jobId}`).waitFor({ state: "detached", ...SHOWN });
    await page.getByTestId("filter-running").click();
    await page.getByTestId(`job-row-${jobId}`).waitFor(SHOWN);
    await browser.screenshot(page, "jobs");

    // The job: two vertices of parallelism 2, rebalanced; the source turns HIGH behind the slow sink.
    await page.getByRole("link", { name: "slow-sink" }).click();
    const source = page.getByTestId(`vertex-${v1}`);
    const sink = page.getByTestId(`vertex-${v2}`);
    await source.waitFor(SHOWN);
    expect(await page.locator("[data-parallelism]").count()).toBe(2);
    expect(await source.getAttribute("data-parallelism")).toBe("2");
    expect(await sink.getAttribute("data-parallelism")).toBe("2");
    expect(await page.getByTestId(`edge-${v1}-${v2}`).textContent()).toBe("REBALANCE");
    // Rates that increase: the sink's records in, read from the page twice.
    const recordsIn = async () => Number((await page.getByTestId(`vertex-${v2}-records-in`).textContent())?.replaceAll(",", ""));
    await expect.poll(recordsIn, SHOWN).toBeGreaterThan(0);
    const first = await recordsIn();
    await expect.poll(recordsIn, SHOWN).toBeGreaterThan(first);
    await expect.poll(() => page.getByTestId(`vertex-${v2}-rates`).textContent(), SHOWN).toMatch(/in [1-9]/);
    await expect.poll(() => source.getAttribute("data-level"), SHOWN).toBe("high");
    await expect.poll(() => page.getByTestId(`vertex-${v1}-level`).textContent(), SHOWN).toContain("HIGH");
    await page.getByTestId("chart-throughput").locator("canvas").waitFor(SHOWN);
    await browser.screenshot(page, "job-graph");

    // A vertex's subtasks: where they run, their rates and back-pressure.
    await source.click();
    const subtasks = page.getByTestId("subtasks-table");
    await subtasks.getByTestId("subtask-1").waitFor(SHOWN);
    expect(await subtasks.locator("tbody tr").count()).toBe(2);
    await expect.poll(() => page.getByTestId("vertex-panel").textContent(), SHOWN).toContain("HIGH");
    await page.getByTestId("chart-vertex").locator("canvas").waitFor(SHOWN);
    await browser.screenshot(page, "job-vertex");

    // Cancel from the page: the job ends CANCELED.
    await page.getByTestId("action-cancel").click();
    await page.getByRole("button", { name: "Cancel job" }).click();
    await expect.poll(() => page.getByTestId("job-state").textContent(), SHOWN).toBe("CANCELED");
    expect((await cluster.job(jobId)).state).toBe("CANCELED");

    // The checkpointed job: a checkpoint appears in the timeline and the history.
    await page.goto(`${cluster.restUrl}/#/jobs/${checkpointed}/checkpoints`);
    await expect.poll(async () => Number(await page.getByTestId("checkpoints-completed").locator(".card-value").textContent()), SHOWN).toBeGreaterThan(0);
    await page.getByTestId("chart-checkpoints").locator("canvas").waitFor(SHOWN);
    await page.getByTestId("checkpoints-table").locator("tbody tr").first().click();
    await page.getByTestId("checkpoint-detail").waitFor(SHOWN);
    await browser.screenshot(page, "job-checkpoints");

    // Trigger a savepoint from the page and see where it went.
    await page.getByTestId("action-savepoint").click();
    await page.getByRole("button", { name: "Take savepoint" }).click();
    const done = page.getByTestId("notice-ok").filter({ hasText: "Savepoint completed" });
    await done.waitFor(SHOWN);
    expect(await done.textContent()).toContain(join(cluster.dir, "savepoints", `savepoint-${checkpointed.slice(0, 6)}`));
    await page.getByTestId("savepoints-table").waitFor(SHOWN);
    await cluster.rest("PATCH", `/jobs/${checkpointed}?mode=cancel`);
    await page.close();
  }, 120_000);

  it("submits a job by uploading its file; it runs and finishes with its record count; a bad upload shows the API's error", async () => {
    const page = await open("jobs", [400]);
    await page.getByTestId("open-submit").click();
    await page.getByTestId("submit-file").setInputFiles(join(REPO_ROOT, "e2e/jobs/no-default-export.ts"));
    await page.getByTestId("submit-confirm").click();
    const error = page.getByRole("dialog").getByTestId("error");
    await error.waitFor(SHOWN);
    expect(await error.textContent()).toMatch(/^error\[JOB_NO_DEFAULT_EXPORT\]: .*default export/);
    await browser.screenshot(page, "submit-error");

    await page.getByTestId("submit-file").setInputFiles(join(REPO_ROOT, "e2e/jobs/count-to.ts"));
    await page.getByTestId("submit-parallelism").fill("2");
    await page.getByTestId("submit-args").fill("--count 4321");
    await page.getByTestId("submit-confirm").click();
    // The page moves to the new job, which finishes with every record through the sink.
    await expect.poll(() => page.getByTestId("job-state").textContent(), SHOWN).toBe("FINISHED");
    expect(await page.getByTestId("job-name").textContent()).toBe("count-to");
    const sinkId = await page.locator("[data-testid^='vertex-row-']").last().getAttribute("data-testid");
    const sinkVertex = sinkId!.replace("vertex-row-", "");
    await expect.poll(() => page.getByTestId(`vertex-${sinkVertex}-records-in`).textContent(), SHOWN).toBe("4,321");
    await browser.screenshot(page, "job-finished");
    await page.close();
  }, 90_000);

  it("shows a failed job's exceptions with the TaskManager involved, and the TaskManagers with their memory, buffers and tasks", async () => {
    const jobId = await cluster.submit("e2e/jobs/fails-at-runtime.ts", { name: "fails-at-runtime" });
    await cluster.waitForStatus(jobId, "FAILED", 30_000);
    const page = await open(`jobs/${jobId}/exceptions`);
    await page.getByTestId("root-exception").waitFor(SHOWN);
    expect(await page.getByTestId("exceptions-table").textContent()).toContain("TASK_FAILED");
    await browser.screenshot(page, "job-exceptions");

    await page.getByRole("link", { name: "TaskManagers", exact: true }).click();
    const table = page.getByTestId("taskmanagers-table");
    await expect.poll(() => table.locator("tbody tr").count(), SHOWN).toBe(2);
    await expect.poll(() => table.textContent(), SHOWN).toMatch(/MiB/);
    expect(await table.textContent()).toMatch(/\/2048/);
    await browser.screenshot(page, "taskmanagers");
    await table.locator("tbody tr a").first().click();
    await page.getByTestId("tm-tasks-table").waitFor(SHOWN);
    await browser.screenshot(page, "taskmanager");
    await page.close();
  }, 60_000);

  it("kept the console free of errors", () => {
    expect(browser.errors).toEqual([]);
  });
});

describe("dashboard with access control", () => {
  const OPERATOR = "dashboard-operator-token";
  let cluster: TestCluster;
  let browser: TestBrowser;

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([
      TestCluster.start({ taskmanagers: 1, config: { ...FAST, "rest.auth.operator-token": OPERATOR, "rest.auth.anonymous": "read-only" } }),
      TestBrowser.launch(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it("shows a read-only visitor everything and lets them do nothing; an operator's token enables the actions", async () => {
    const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { name: "unbounded", args: ["--rate", "200"], authorization: `Bearer ${OPERATOR}` });
    await cluster.waitForStatus(jobId, "RUNNING");
    const page = await browser.page([401]);
    await page.goto(`${cluster.restUrl}/#/jobs/${jobId}`);
    await expect.poll(() => page.getByTestId("role").textContent(), SHOWN).toContain("anonymous: read-only");
    await expect.poll(() => page.getByTestId("job-state").textContent(), SHOWN).toBe("RUNNING");
    for (const action of ["savepoint", "stop", "rescale", "cancel"]) expect(await page.getByTestId(`action-${action}`).isDisabled()).toBe(true);

    // The API refuses the same actions from the page without credentials.
    const refused = await page.evaluate(async (id) => {
      const cancel = await fetch(`/jobs/${id}?mode=cancel`, { method: "PATCH" });
      const submit = await fetch("/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ bundle: "AAAA" }) });
      const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code;
      return [cancel.status, await codeOf(cancel), submit.status, await codeOf(submit)];
    }, jobId);
    expect(refused).toEqual([401, "UNAUTHORIZED", 401, "UNAUTHORIZED"]);

    await page.getByRole("link", { name: "Jobs", exact: true }).click();
    expect(await page.getByTestId("open-submit").isDisabled()).toBe(true);

    // A wrong token is refused; the operator's enables everything.
    await page.getByTestId("sign-in").click();
    await page.getByTestId("login-token").fill("not-the-token");
    await page.getByTestId("login-submit").click();
    await page.getByTestId("login").getByTestId("error").waitFor(SHOWN);
    await browser.screenshot(page, "sign-in");
    await page.getByTestId("login-token").fill(OPERATOR);
    await page.getByTestId("login-submit").click();
    await expect.poll(() => page.getByTestId("role").textContent(), SHOWN).toContain("signed in: operator");
    await expect.poll(() => page.getByTestId("open-submit").isDisabled(), SHOWN).toBe(false);
    await page.getByRole("link", { name: "unbounded" }).click();
    await page.getByTestId("action-cancel").click();
    await page.getByRole("button", { name: "Cancel job" }).click();
    await expect.poll(() => page.getByTestId("job-state").textContent(), SHOWN).toBe("CANCELED");
    await page.close();
    expect(browser.errors).toEqual([]);
  }, 90_000);
});
