import { describe, expect, it } from "vitest";
import { podName } from "./kubernetes-provider.js";

describe("TaskManager pod names", () => {
  it("are valid DNS labels whatever the cluster id, and keep the TaskManager id whole", () => {
    expect(podName("default", "taskmanager-1a2b3c4d")).toBe("riffle-default-taskmanager-1a2b3c4d");
    expect(podName("Prod_EU.1", "taskmanager-1a2b3c4d")).toBe("riffle-prod-eu-1-taskmanager-1a2b3c4d");
    const long = podName("a".repeat(63), "taskmanager-1a2b3c4d");
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long.endsWith("-taskmanager-1a2b3c4d")).toBe(true);
    for (const name of [long, podName("-x-", "taskmanager-0")]) expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
