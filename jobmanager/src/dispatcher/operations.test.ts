import { RiffleError } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { AsyncOperations } from "./operations.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("AsyncOperations", () => {
  it("reports an operation in progress, then its location or its failure's code and message", async () => {
    const ops = new AsyncOperations();
    let finish!: (location: string) => void;
    const ok = ops.start("job-a", "savepoint", new Promise<string>((resolve) => (finish = resolve)));
    const bad = ops.start("job-a", "rescale", Promise.reject(new RiffleError("SAVEPOINT_FAILED", "declined")));
    expect(ok).toMatch(/^[0-9a-f]{32}$/);
    expect(ops.get("job-a", "savepoint", ok)).toEqual({ status: "IN_PROGRESS" });
    finish("/savepoints/savepoint-abc-1-x");
    await settle();
    expect(ops.get("job-a", "savepoint", ok)).toEqual({ status: "COMPLETED", location: "/savepoints/savepoint-abc-1-x" });
    expect(ops.get("job-a", "rescale", bad)).toEqual({ status: "FAILED", failure: { code: "SAVEPOINT_FAILED", message: "declined" } });
  });

  it("knows a trigger id only for its job and kind", () => {
    const ops = new AsyncOperations();
    const id = ops.start("job-a", "savepoint", new Promise<string>(() => {}));
    expect(() => ops.get("job-b", "savepoint", id)).toThrow(
      new RiffleError("OPERATION_NOT_FOUND", `job job-b has no savepoint operation with trigger id ${id}`),
    );
    expect(() => ops.get("job-a", "rescale", id)).toThrow(/no rescale operation/);
  });

  it("forgets the oldest ended operations beyond its bound, never one in progress", async () => {
    const ops = new AsyncOperations();
    const running = ops.start("job", "savepoint", new Promise<string>(() => {}));
    const first = ops.start("job", "savepoint", Promise.resolve("/first"));
    await settle();
    for (let i = 0; i < 1_000; i++) ops.start("job", "savepoint", Promise.resolve(`/sp-${i}`));
    await settle();
    ops.start("job", "savepoint", Promise.resolve("/last"));
    expect(ops.get("job", "savepoint", running)).toEqual({ status: "IN_PROGRESS" });
    expect(() => ops.get("job", "savepoint", first)).toThrow(/no savepoint operation/);
  });
});
