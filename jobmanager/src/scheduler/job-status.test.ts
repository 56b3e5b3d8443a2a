import { describe, expect, it } from "vitest";
import { JOB_STATUSES } from "../store/index.js";
import { JOB_TRANSITIONS, JobStatusMachine, isTerminalJobStatus } from "./job-status.js";

describe("job state machine", () => {
  it("allows exactly the transitions of the table", () => {
    const allowed = new Set(Object.entries(JOB_TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}->${to}`)));
    expect([...allowed].sort()).toEqual(
      [
        "CREATED->RUNNING",
        "CREATED->RESTARTING",
        "CREATED->FAILING",
        "CREATED->CANCELLING",
        "RUNNING->FINISHED",
        "RUNNING->RESTARTING",
        "RUNNING->FAILING",
        "RUNNING->CANCELLING",
        "RUNNING->STOPPING",
        "RUNNING->RESCALING",
        "STOPPING->FINISHED",
        "RESCALING->RUNNING",
        "RESCALING->RESTARTING",
        "RESCALING->FAILING",
        "RESCALING->CANCELLING",
        "RESTARTING->RUNNING",
        "RESTARTING->FAILING",
        "RESTARTING->CANCELLING",
        "FAILING->FAILED",
        "CANCELLING->CANCELED",
      ].sort(),
    );
    for (const from of JOB_STATUSES) {
      for (const to of JOB_STATUSES) {
        const machine = new JobStatusMachine(from, {});
        if (allowed.has(`${from}->${to}`)) expect(machine.transition(to).to).toBe(to);
        else expect(() => machine.transition(to)).toThrow(`illegal job status transition ${from} -> ${to}`);
      }
    }
  });

  it("knows the terminal statuses", () => {
    expect(JOB_STATUSES.filter(isTerminalJobStatus)).toEqual(["FINISHED", "FAILED", "CANCELED"]);
  });

  it("records when each status was entered and how long the previous one lasted", () => {
    let now = 1_000;
    const timestamps = { CREATED: 1_000 };
    const machine = new JobStatusMachine("CREATED", timestamps, () => now);
    now = 1_250;
    expect(machine.transition("RUNNING")).toEqual({ from: "CREATED", to: "RUNNING", at: 1_250, durationMs: 250 });
    now = 2_000;
    expect(machine.transition("FINISHED").durationMs).toBe(750);
    expect(timestamps).toEqual({ CREATED: 1_000, RUNNING: 1_250, FINISHED: 2_000 });
    expect(machine.isTerminal).toBe(true);
  });
});
