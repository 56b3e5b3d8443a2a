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

describe("FencingGuard's new-leader listeners", () => {
  const older = fencingToken(10n, "1");
  const newer = fencingToken(12n, "2");

  it("hear each newer token once, from an answer or a command, with the one before it, and never an older or equal one", () => {
    const guard = new FencingGuard(log, new Registry());
    const heard: Array<[string, string | undefined]> = [];
    guard.onNewLeader((token, previous) => heard.push([token, previous]));
    guard.observe(older);
    guard.observe(older);
    guard.check(older, "DeployTask", "execution e1");
    guard.check(newer, "DeployTask", "execution e2");
    expect(() => guard.check(older, "DeployTask", "execution e3")).toThrow();
    guard.observe(newer);
    expect(heard).toEqual([
      [older, undefined],
      [newer, older],
    ]);
  });
});

describe("ExecutionReconciler", () => {
  it("cancels a task only once two heartbeats in a row left it out, over at least the grace period", () => {
    const r = new ExecutionReconciler(1_000);
    const live = [
      { executionId: "a", jobId: "j" },
      { executionId: "b", jobId: "j" },
    ];
    expect(r.reconcile(live, ["a"], 0)).toEqual([]);
    // Two heartbeats, but within the grace period (they may have been computed before b's deployment).
    expect(r.reconcile(live, ["a"], 100)).toEqual([]);
    expect(r.reconcile(live, ["a"], 1_000)).toEqual([{ executionId: "b", jobId: "j" }]);
    // Listed again in between: the count starts over.
    expect(r.reconcile(live, ["a"], 2_000)).toEqual([]);
    expect(r.reconcile(live, ["a", "b"], 3_000)).toEqual([]);
    expect(r.reconcile(live, ["a"], 4_000)).toEqual([]);
    r.reset();
    expect(r.reconcile(live, ["a"], 9_000)).toEqual([]);
    expect(r.reconcile(live, ["a"], 10_000)).toEqual([{ executionId: "b", jobId: "j" }]);
  });
});

describe("jobManagerAddresses", () => {
  it("takes one address or several, else the JobManager's rpc address, and refuses what is not host:port", () => {
    expect(jobManagerAddresses("", "127.0.0.1:6123")).toEqual(["127.0.0.1:6123"]);
    expect(jobManagerAddresses("a:1, b:2,c:3", "x:1")).toEqual(["a:1", "b:2", "c:3"]);
    expect(() => jobManagerAddresses("a:1,b", "x:1")).toThrow(/"b" is not host:port/);
  });
});
