import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RiffleProcess, setFlags } from "./harness/index.js";

/** Issue 10, bad input: high-availability settings that cannot work, and an etcd that is not there. */
describe("JobManager high availability: bad settings", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-ha-bad-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const jobmanager = (name: string, settings: Record<string, string | number>) =>
    new RiffleProcess(name, [
      "jobmanager",
      ...setFlags({ "rest.port": 0, "jobmanager.rpc.port": 0, "jobmanager.storage.dir": join(dir, name), "high-availability.type": "etcd", ...settings }),
    ]);

  it("an empty cluster id, or a storageDir that cannot be written, stops the JobManager at start with a clear error", async () => {
    const port = await freePort();
    const noId = jobmanager("no-cluster-id", {
      "high-availability.cluster-id": "",
      "high-availability.etcd.endpoints": `http://127.0.0.1:${port}`,
      "high-availability.storageDir": join(dir, "ha"),
    });
    expect((await noId.exited).code).not.toBe(0);
    expect(noId.stderr.join("\n")).toMatch(/error\[CONFIG_INVALID\].*cluster-id/);

    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const badStorage = jobmanager("bad-storage", {
      "high-availability.cluster-id": "bad-storage",
      "high-availability.etcd.endpoints": `http://127.0.0.1:${port}`,
      "high-availability.storageDir": join(file, "ha"),
    });
    expect((await badStorage.exited).code).not.toBe(0);
    expect(badStorage.stderr.join("\n")).toMatch(/error\[HA_STORAGE_FAILED\].*a-file/);
  });

  it("an etcd that cannot be reached: the JobManager keeps running, says so naming the endpoints, and its REST API answers 503", async () => {
    const port = await freePort();
    const jm = jobmanager("no-etcd", {
      "high-availability.cluster-id": "no-etcd",
      "high-availability.etcd.endpoints": `http://127.0.0.1:${port}`,
      "high-availability.storageDir": join(dir, "ha-no-etcd"),
    });
    try {
      const started = await jm.waitForLog((l) => l.msg === "JobManager started", 30_000);
      await jm.waitForLog((l) => JSON.stringify(l).includes(`127.0.0.1:${port}`) && (l.level as number) >= 40, 30_000);
      const base = `http://127.0.0.1:${started.restPort}`;
      let answer: { status: number; body: { code?: string; message?: string } } | undefined;
      const deadline = Date.now() + 30_000;
      // The election's first failure is what the 503 names: ask until it is known.
      while (Date.now() < deadline) {
        const res = await fetch(`${base}/jobs/overview`, { signal: AbortSignal.timeout(5_000) });
        answer = { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
        if (answer.body.message?.includes("etcd")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(answer?.status).toBe(503);
      expect(answer?.body.code).toBe("NOT_LEADER");
      expect(answer?.body.message).toMatch(new RegExp(`no leader: .*127\\.0\\.0\\.1:${port}`));
      expect(jm.hasExited).toBe(false);
    } finally {
      await jm.stop();
    }
  }, 90_000);
});
