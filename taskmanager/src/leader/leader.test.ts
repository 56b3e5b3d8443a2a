import { createLogger, fencingToken } from "@riffle/shared";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ExecutionReconciler } from "./execution-reconciler.js";
import { FencingGuard } from "./fencing-guard.js";
import { jobManagerAddresses } from "./addresses.js";

const log = createLogger("test");
log.level = "silent";

describe("FencingGuard", () => {
  const older = fencingToken(10n, "1");
  const newer = fencingToken(12n, "2");

  it("keeps the newest token and refuses older ones with FENCING_TOKEN_OUTDATED, counting them", async () => {
    const registry = new Registry();
    const guard = new FencingGuard(log, registry);
    guard.check(older, "DeployTask", "execution e1");
    expect(guard.observe(newer)).toBe(true);
    expect(guard.observe(older)).toBe(false);
    expect(() => guard.check(older, "TriggerCheckpoint", "checkpoint 3 of execution e1")).toThrow(
      expect.objectContaining({ code: "FENCING_TOKEN_OUTDATED", message: expect.stringContaining(`older than ${newer}`) }),
    );
    expect(() => guard.check("", "CancelTask", "execution e1")).toThrow(expect.objectContaining({ code: "FENCING_TOKEN_OUTDATED" }));
    guard.check(newer, "CancelTask", "execution e1");
    const metric = await registry.getSingleMetricAsString("riffle_taskmanager_fencing_rejections_total");
    expect(metric).toContain('command="TriggerCheckpoint"} 1');
    expect(metric).toContain('command="CancelTask"} 1');
  });

  it("takes a newer token from a command as the newest", () => {
    const guard = new FencingGuard(log, new Registry());
    guard.observe(older);
    guard.check(newer, "DeployTask", "execution e2");
    expect(guard.newest).toBe(newer);
    expect(() => guard.check(older, "DeployTask", "execution e3")).toThrow(/deposed/);
  });
});

describe("ExecutionReconciler", () => {
  it("cancels a task only after two heartbeats in a row left it out", () => {
    const r = new ExecutionReconciler();
    const live = [
      { executionId: "a", jobId: "j" },
      { executionId: "b", jobId: "j" },
    ];
    expect(r.reconcile(live, ["a"])).toEqual([]);
    expect(r.reconcile(live, ["a"])).toEqual([{ executionId: "b", jobId: "j" }]);
    // Listed again in between: the count starts over.
    expect(r.reconcile(live, ["a"])).toEqual([]);
    expect(r.reconcile(live, ["a", "b"])).toEqual([]);
    expect(r.reconcile(live, ["a"])).toEqual([]);
    r.reset();
    expect(r.reconcile(live, ["a"])).toEqual([]);
  });
});

describe("jobManagerAddresses", () => {
  it("takes one address or several, else the JobManager's rpc address, and refuses what is not host:port", () => {
    expect(jobManagerAddresses("", "127.0.0.1:6123")).toEqual(["127.0.0.1:6123"]);
    expect(jobManagerAddresses("a:1, b:2,c:3", "x:1")).toEqual(["a:1", "b:2", "c:3"]);
    expect(() => jobManagerAddresses("a:1,b", "x:1")).toThrow(/"b" is not host:port/);
  });
});
