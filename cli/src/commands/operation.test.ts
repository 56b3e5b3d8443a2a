import { RiffleError } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import type { OperationResult } from "../rest-client.js";
import { waitForOperation } from "./operation.js";

/** A poll answering with each status in turn, then the last one forever. */
function answers(...statuses: OperationResult[]): () => Promise<OperationResult> {
  let i = 0;
  return async () => statuses[Math.min(i++, statuses.length - 1)]!;
}

const inProgress: OperationResult = { status: { id: "IN_PROGRESS" } };

describe("waitForOperation", () => {
  it("polls until the operation completed and returns the savepoint's location", async () => {
    const poll = answers(inProgress, inProgress, { status: { id: "COMPLETED" }, operation: { location: "/sp/savepoint-a-1-x" } });
    expect(await waitForOperation(poll, { what: "the savepoint", deadlineMs: 5_000, pollIntervalMs: 1 })).toBe("/sp/savepoint-a-1-x");
  });

  it("throws the failure cause with the JobManager's code", async () => {
    const poll = answers({
      status: { id: "COMPLETED" },
      operation: { "failure-cause": { class: "CHECKPOINT_STORAGE_FAILED", "stack-trace": "cannot create the savepoint directory /x/y" } },
    });
    await expect(waitForOperation(poll, { what: "the savepoint", deadlineMs: 5_000 })).rejects.toEqual(
      new RiffleError("CHECKPOINT_STORAGE_FAILED", "cannot create the savepoint directory /x/y"),
    );
  });

  it("gives up with TIMEOUT at its deadline", async () => {
    const err = await waitForOperation(answers(inProgress), { what: "the rescale of job j", deadlineMs: 30, pollIntervalMs: 5 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TIMEOUT" });
    expect((err as Error).message).toMatch(/^the rescale of job j did not complete within/);
  });
});
