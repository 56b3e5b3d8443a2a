import { createLogger } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { selectSlots } from "./slot-selection.js";
import { TaskManagerRegistry, type TaskManagerListener } from "./taskmanager-registry.js";

const silent = createLogger("test");
silent.level = "silent";

describe("selectSlots", () => {
  it("spreads over TaskManagers, most free slots first", () => {
    expect(
      selectSlots(
        [
          { taskmanagerId: "a", freeSlots: 1 },
          { taskmanagerId: "b", freeSlots: 1 },
        ],
        2,
      ),
    ).toEqual(["a", "b"]);
    expect(
      selectSlots(
        [
          { taskmanagerId: "a", freeSlots: 1 },
          { taskmanagerId: "b", freeSlots: 2 },
        ],
        2,
      ),
    ).toEqual(["b", "a"]);
    expect(
      selectSlots(
        [
          { taskmanagerId: "a", freeSlots: 3 },
          { taskmanagerId: "b", freeSlots: 1 },
        ],
        4,
      ),
    ).toEqual(["a", "b", "a", "a"]);
    expect(
      selectSlots(
        [
          { taskmanagerId: "b", freeSlots: 2 },
          { taskmanagerId: "a", freeSlots: 2 },
        ],
        3,
      ),
    ).toEqual(["a", "b", "a"]);
  });

  it("returns undefined when too few slots are free", () => {
    expect(selectSlots([{ taskmanagerId: "a", freeSlots: 1 }], 2)).toBeUndefined();
    expect(selectSlots([], 1)).toBeUndefined();
  });
});

function registry(now: () => number) {
  const lost: string[] = [];
  const registered: string[] = [];
  const listener: TaskManagerListener = {
    onTaskManagerRegistered: (tm) => registered.push(tm.id),
    onTaskManagerLost: (_tm, message) => lost.push(message),
    onTaskReports: () => {},
    executionsOn: () => ["e1"],
  };
  const r = new TaskManagerRegistry({ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1_000, logger: silent, clock: { now, schedule: () => () => {} } });
  r.setListener(listener);
  return { r, lost, registered };
}

const offer = (id: string, slots: number) => ({ taskmanagerId: id, address: `127.0.0.1:${6000 + id.charCodeAt(0)}`, slots, metricsAddress: "", pid: 1 });

describe("TaskManagerRegistry", () => {
  it("allocates slots spread over TaskManagers and takes them back", () => {
    const { r } = registry(() => 0);
    r.register(offer("a", 1));
    r.register(offer("b", 1));
    const slots = r.allocate("job1", 2)!;
    expect(slots.map((s) => s.taskmanagerId)).toEqual(["a", "b"]);
    expect(r.slotCounts()).toEqual({ taskmanagers: 2, slotsTotal: 2, slotsAvailable: 0 });
    expect(r.allocate("job2", 1)).toBeUndefined();
    expect(r.release(slots[0]!, "job2")).toBe(false);
    expect(r.release(slots[0]!, "job1")).toBe(true);
    expect(r.allocate("job2", 1)!.map((s) => s.taskmanagerId)).toEqual(["a"]);
  });

  it("declares a silent TaskManager lost after the heartbeat timeout", () => {
    let now = 0;
    const { r, lost } = registry(() => now);
    const { registrationId } = r.register(offer("a", 1));
    const sent: unknown[] = [];
    const sink = { send: (hb: unknown) => sent.push(hb), close: () => {} };
    now = 500;
    r.heartbeat("a", registrationId, [], sink);
    now = 1_400;
    r.tick();
    expect(lost).toEqual([]);
    expect(sent).toEqual([{ executionIds: ["e1"], fencingToken: "" }]);
    now = 1_501;
    r.tick();
    expect(lost).toEqual(["TaskManager a (127.0.0.1:6097) was lost: no heartbeat for 1001 ms"]);
    expect(r.list()).toEqual([]);
  });

  it("declares a TaskManager lost when its heartbeat stream breaks, and refuses unknown registrations", () => {
    const { r, lost } = registry(() => 0);
    const { registrationId } = r.register(offer("a", 2));
    const sink = { send: () => {}, close: () => {} };
    expect(() => r.heartbeat("a", "stale", [], sink)).toThrow(/register again/);
    r.heartbeat("a", registrationId, [], sink);
    r.streamClosed("a", registrationId, sink);
    expect(lost).toEqual(["TaskManager a (127.0.0.1:6097) was lost: its connection broke"]);
    expect(r.slotCounts().slotsTotal).toBe(0);
  });

  it("replaces a registration under the same id, losing the old one and its slots", () => {
    const { r, lost, registered } = registry(() => 0);
    r.register(offer("a", 1));
    const old = r.allocate("job1", 1)!;
    r.register(offer("a", 1));
    expect(registered).toEqual(["a", "a"]);
    expect(lost).toEqual(["TaskManager a (127.0.0.1:6097) was lost: it registered again (restarted)"]);
    expect(r.release(old[0]!, "job1")).toBe(false);
    expect(r.slotCounts()).toEqual({ taskmanagers: 1, slotsTotal: 1, slotsAvailable: 1 });
  });

  it("refuses registrations without an address or slots", () => {
    const { r } = registry(() => 0);
    expect(() => r.register({ ...offer("a", 1), address: "nohost" })).toThrow(/host:port/);
    expect(() => r.register(offer("a", 0))).toThrow(/at least 1/);
  });
});
