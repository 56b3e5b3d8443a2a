import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, HaTestCluster, TestBrowser, TestCluster } from "./harness/index.js";

/**
 * The dashboard's two screens that need a feature running: the high-availability card on a leader's
 * and a standby's overview (2 JobManagers on a real etcd), and a job's Autoscaler tab (the autoscaler
 * in dry run on a running job). Screenshots go to e2e/artifacts/dashboard/ with the others.
 */

const SHOWN = { timeout: 30_000 };

describe("dashboard: high availability and the autoscaler", () => {
  let browser: TestBrowser;

  beforeAll(async () => {
    browser = await TestBrowser.launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("a standby serves the dashboard, says it is a standby and names the leader; the leader's says it leads", async () => {
    const etcd = await EtcdCluster.start();
    let cluster: HaTestCluster | undefined;
    try {
      cluster = await HaTestCluster.startHa({ etcd, jobmanagers: 2, taskmanagers: 1, config: { "web.refresh-interval": "500ms" } });
      const leader = await cluster.leader();
      const standby = cluster.jobmanagers.find((j) => j.restUrl !== leader.restUrl)!;
      const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { name: "on-the-leader", args: ["--rate", "100"] });
      await cluster.waitForStatus(jobId, "RUNNING");

      const page = await browser.page();
      await page.goto(`${standby.restUrl}/#/`);
      const card = page.getByTestId("card-ha");
      await expect.poll(() => card.textContent(), SHOWN).toContain("standby");
      await expect.poll(() => card.textContent(), SHOWN).toContain(leader.restUrl);
      // The overview it shows is the leader's: its TaskManager is there, and the running job.
      await expect.poll(() => page.getByTestId("card-taskmanagers").textContent(), SHOWN).toContain("1");
      await page.getByRole("link", { name: "on-the-leader" }).waitFor(SHOWN);
      await browser.screenshot(page, "overview-standby");
      // The jobs list and a job's page, and an action: the standby passes them on to the leader.
      await page.getByRole("link", { name: "Jobs", exact: true }).click();
      await page.getByTestId(`job-row-${jobId}`).waitFor(SHOWN);
      await page.getByRole("link", { name: "on-the-leader" }).first().click();
      await page.getByTestId("action-cancel").click();
      await page.getByRole("button", { name: "Cancel job" }).click();
      await cluster.waitForStatus(jobId, "CANCELED");
      await expect.poll(() => page.getByTestId("job-state").textContent(), SHOWN).toContain("CANCELED");

      await page.goto(`${leader.restUrl}/#/`);
      await expect.poll(() => page.getByTestId("card-ha").textContent(), SHOWN).toContain("this JobManager leads");
      await page.close();
      expect(browser.errors).toEqual([]);
    } finally {
      await cluster?.stop();
      await etcd.close();
    }
  }, 180_000);

  it("shows an autoscaled job's state, each vertex's parallelism and recommendation, and its decisions", async () => {
    // A dry run: the autoscaler measures and recommends, never rescales.
    const cluster = await TestCluster.start({
      taskmanagers: 1,
      taskmanager: { "taskmanager.slots": 2 },
      config: {
        "heartbeat.interval": "500ms",
        "web.refresh-interval": "500ms",
        "job.autoscaler.enabled": "true",
        "job.autoscaler.scaling.enabled": "false",
        "job.autoscaler.interval": "1s",
        "job.autoscaler.metrics.window": "3s",
        "job.autoscaler.stabilization.interval": "1s",
      },
    });
    try {
      const jobId = await cluster.submit("e2e/jobs/unbounded.ts", { name: "autoscaled", args: ["--checkpoint", "500", "--rate", "500"] });
      const job = await cluster.waitForStatus(jobId, "RUNNING");
      const page = await browser.page();
      await page.goto(`${cluster.restUrl}/#/jobs/${jobId}/autoscaler`);
      const state = page.getByTestId("autoscaler-state");
      await expect.poll(() => state.textContent(), SHOWN).toContain("Mode");
      // One row per vertex, named as the job's vertices are, once the autoscaler has evaluated the job.
      const rows = page.getByTestId("autoscaler-vertices").locator("tbody tr");
      await expect.poll(() => rows.count(), SHOWN).toBe(job.vertices.length);
      for (const v of job.vertices) await expect.poll(() => page.getByTestId("autoscaler-vertices").textContent(), SHOWN).toContain(v.name);
      // The REST answer and the page agree on the mode and the decisions' count.
      const info = await cluster.rest<{ mode: string; history: unknown[] }>("GET", `/jobs/${jobId}/autoscaler`);
      expect(info.status).toBe(200);
      expect(await state.textContent()).toContain(`Mode ${info.body.mode}`);
      await expect.poll(() => page.getByTestId("autoscaler-history").locator("tbody tr").count(), SHOWN).toBeGreaterThanOrEqual(info.body.history.length);
      // The same autoscaler on the JobManager's /metrics.
      const scrape = await (await fetch(`${cluster.restUrl}/metrics`)).text();
      expect(scrape).toContain(`riffle_autoscaler_rescales{job_id="${jobId}",process="jobmanager"} 0`);
      await browser.screenshot(page, "job-autoscaler");
      await page.close();
      expect(browser.errors).toEqual([]);
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      await cluster.waitForStatus(jobId, "CANCELED");
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
