import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { SlotSnapshot } from "../slot/protocol.js";
import { metricsText } from "./task-metrics.js";
import { userMetricGroup } from "./user-metrics.js";

const task = { job_id: "j", vertex_id: "v", task_name: "Source: numbers", subtask_index: "0" };

describe("user metrics", () => {
  it("gauges with labels: series of one name stay apart where names built from them would collide (topics a.b and a_b)", async () => {
    const slot = new Registry();
    const metrics = userMetricGroup(slot, task);
    metrics.gauge("labelled_lag", () => 5, "lag", { topic: "a.b", partition: "0" });
    metrics.gauge("labelled_lag", () => 7, "lag", { topic: "a_b", partition: "0" });
    // The same series again (a partition that came back): its reader is replaced, not added.
    metrics.gauge("labelled_lag", () => 6, "lag", { topic: "a.b", partition: "0" });
    const text = await metricsText(new Registry(), [{ userMetrics: await slot.getMetricsAsJSON() } as unknown as SlotSnapshot]);
    const series = text.split("\n").filter((l) => l.startsWith("riffle_user_labelled_lag{"));
    expect(series.sort()).toEqual([
      'riffle_user_labelled_lag{job_id="j",vertex_id="v",task_name="Source: numbers",subtask_index="0",topic="a.b",partition="0"} 6',
      'riffle_user_labelled_lag{job_id="j",vertex_id="v",task_name="Source: numbers",subtask_index="0",topic="a_b",partition="0"} 7',
    ]);
  });

  it("refuses labels that differ from the gauge's first registration, or that shadow the task's", () => {
    const metrics = userMetricGroup(new Registry(), task);
    metrics.gauge("labelled_once", () => 1, "x", { topic: "t" });
    expect(() => metrics.gauge("labelled_once", () => 1, "x", { partition: "0" })).toThrow(/has labels topic, not partition/);
    expect(() => metrics.gauge("labelled_other", () => 1, "x", { job_id: "x" })).toThrow(/invalid label "job_id"/);
  });
});
