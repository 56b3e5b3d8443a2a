import { describe, expect, it } from "vitest";
import type { RiffleError } from "@riffle/shared";
import { StreamExecutionEnvironment } from "../api/environment.js";
import { buildJobGraph, type BuildOptions } from "./build.js";

const opts: BuildOptions = { name: "test", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 100 };

function plan(build: (env: StreamExecutionEnvironment) => void, extra: Partial<typeof opts> & { parallelism?: number } = {}) {
  const env = new StreamExecutionEnvironment("plan");
  build(env);
  return buildJobGraph(env, { ...opts, ...extra });
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as RiffleError).code;
  }
  return undefined;
}

describe("JobGraph building", () => {
  it("takes the periodic watermark interval from the job, else from the cluster's default, else 200 ms", () => {
    const job = (env: StreamExecutionEnvironment) => env.fromElements(1).print();
    expect(plan(job).autoWatermarkIntervalMs).toBe(200);
    expect(plan(job, { defaultAutoWatermarkIntervalMs: 50 }).autoWatermarkIntervalMs).toBe(50);
    expect(plan(job, { defaultAutoWatermarkIntervalMs: 0 }).autoWatermarkIntervalMs).toBe(0);
    const setsItself = (env: StreamExecutionEnvironment) => job(env.setAutoWatermarkInterval(1000));
    expect(plan(setsItself, { defaultAutoWatermarkIntervalMs: 50 }).autoWatermarkIntervalMs).toBe(1000);
    // 0 set by the job (periodic watermarks off) is a setting, not an absence.
    expect(plan((env) => job(env.setAutoWatermarkInterval(0)), { defaultAutoWatermarkIntervalMs: 50 }).autoWatermarkIntervalMs).toBe(0);
  });

  it("chains forward edges of equal parallelism and cuts at keyBy", () => {
    const g = plan((env) => {
      env.setParallelism(2);
      env
        .datagen({ generator: (i) => i })
        .map((x) => x + 1)
        .filter((x) => x > 0)
        .keyBy((x) => x % 10)
        .sum()
        .print();
    });
    expect(g.vertices.map((v) => v.name)).toEqual(["Datagen Source -> Map -> Filter", "Keyed sum -> Print to Std. Out"]);
    expect(g.edges).toEqual([{ id: "e1", source: "v1", target: "v5", partitioner: "hash", keySelector: 3 }]);
    expect(g.vertices.every((v) => v.parallelism === 2)).toBe(true);
    expect(g.vertices[0]!.operators.map((o) => o.chainedOutputs)).toEqual([[1], [2], []]);
    expect(g.vertices[0]!.operators[2]!.networkOutputs).toEqual(["e1"]);
    expect(g.functionCount).toBe(6);
  });

  it("rebalances between different parallelisms and keeps collections at parallelism 1", () => {
    const g = plan(
      (env) => {
        env
          .fromElements(1, 2, 3)
          .map((x) => x)
          .print();
      },
      { parallelism: 3 },
    );
    expect(g.vertices.map((v) => [v.name, v.parallelism])).toEqual([
      ["Collection Source", 1],
      ["Map -> Print to Std. Out", 3],
    ]);
    expect(g.edges[0]!.partitioner).toBe("rebalance");
  });

  it("gives a union one input per upstream vertex and lets the last partitioning win", () => {
    const g = plan((env) => {
      const a = env.fromElements("a");
      const b = env.fromElements("b");
      a.union(b)
        .keyBy((x) => x)
        .rebalance()
        .map((x) => x)
        .setParallelism(2)
        .print();
    });
    const map = g.vertices.find((v) => v.name.startsWith("Map"))!;
    expect(map.inputs.length).toBe(2);
    expect(g.edges.filter((e) => e.target === map.id).map((e) => e.partitioner)).toEqual(["rebalance", "rebalance"]);
  });

  it("refuses cycles, parallelism above max, forward across parallelism changes, duplicate uids", () => {
    expect(
      codeOf(() =>
        plan((env) => {
          const it = env.fromElements(1).iterate();
          it.closeWith(it.map((x) => x));
        }),
      ),
    ).toBe("JOB_GRAPH_CYCLE");
    expect(
      codeOf(() =>
        plan((env) => {
          env.setMaxParallelism(4);
          env
            .datagen({ generator: (i) => i })
            .map((x) => x)
            .setParallelism(8)
            .print();
        }),
      ),
    ).toBe("PARALLELISM_ABOVE_MAX");
    expect(
      codeOf(() =>
        plan((env) => {
          env
            .datagen({ generator: (i) => i })
            .forward()
            .map((x) => x)
            .setParallelism(2)
            .print();
        }),
      ),
    ).toBe("JOB_INVALID_GRAPH");
    expect(
      codeOf(() =>
        plan((env) => {
          env
            .fromElements(1)
            .map((x) => x)
            .uid("a")
            .map((x) => x)
            .uid("a");
        }),
      ),
    ).toBe("JOB_INVALID_GRAPH");
    expect(codeOf(() => plan(() => {}))).toBe("JOB_INVALID_GRAPH");
  });

  it("does not chain across disableChaining", () => {
    const g = plan((env) => {
      env
        .fromElements(1)
        .map((x) => x)
        .disableChaining()
        .print();
    });
    expect(g.vertices.map((v) => v.name)).toEqual(["Collection Source", "Map", "Print to Std. Out"]);
  });

  describe("parallelism overrides per vertex (by uid)", () => {
    const job = (env: StreamExecutionEnvironment) => {
      env.setParallelism(2);
      env
        .datagen({ generator: (i) => i })
        .uid("numbers")
        .map((x) => x + 1)
        .uid("plus-one")
        .keyBy((x) => x % 10)
        .sum()
        .uid("sums")
        .print()
        .uid("print");
    };

    it("sets each vertex named by one of its uids, keeping its chain, and rebalances where equal parallelism made a forward edge", () => {
      const base = plan(job);
      const g = plan(job, { parallelismOverrides: { "plus-one": 3, sums: 4 } });
      expect(g.vertices.map((v) => [v.operators.map((o) => o.uid), v.parallelism])).toEqual([
        [["numbers", "plus-one"], 3],
        [["sums", "print"], 4],
      ]);
      expect(g.vertices.map((v) => v.id)).toEqual(base.vertices.map((v) => v.id));
      expect(plan(job, { parallelismOverrides: { print: 1 } }).vertices.map((v) => v.parallelism)).toEqual([2, 1]);

      const unchained = (env: StreamExecutionEnvironment) => {
        env
          .fromElements(1)
          .map((x) => x)
          .uid("m")
          .disableChaining()
          .print()
          .uid("p");
      };
      const u = plan(unchained, { parallelismOverrides: { m: 2, p: 3 } });
      expect(u.vertices.map((v) => v.parallelism)).toEqual([1, 2, 3]);
      expect(u.edges.map((e) => e.partitioner)).toEqual(["rebalance", "rebalance"]);
    });

    it("caps a vertex at what it supports and refuses overrides it cannot apply", () => {
      const collection = (env: StreamExecutionEnvironment) => {
        env
          .fromElements(1, 2)
          .uid("elements")
          .map((x) => x)
          .uid("m")
          .print();
      };
      const g = plan(collection, { parallelism: 2, parallelismOverrides: { elements: 4 } });
      expect(g.vertices[0]!).toMatchObject({ parallelism: 1, parallelismLimit: 1 });
      expect(codeOf(() => plan(job, { parallelismOverrides: { nope: 2 } }))).toBe("BAD_REQUEST");
      expect(codeOf(() => plan(job, { parallelismOverrides: { numbers: 2, "plus-one": 3 } }))).toBe("BAD_REQUEST");
      expect(codeOf(() => plan(job, { parallelismOverrides: { sums: 200 } }))).toBe("PARALLELISM_ABOVE_MAX");
      const forward = (env: StreamExecutionEnvironment) => {
        env
          .fromElements(1)
          .map((x) => x)
          .uid("m")
          .disableChaining()
          .forward()
          .print()
          .uid("p");
      };
      expect(codeOf(() => plan(forward, { parallelismOverrides: { p: 2 } }))).toBe("JOB_INVALID_GRAPH");
    });
  });

  it("carries the job's autoscaler settings, and refuses keys that are not the autoscaler's", () => {
    const g = plan((env) => {
      env.enableAutoscaling({ "job.autoscaler.target.utilization": 0.6 });
      env.fromElements(1).print();
    });
    expect(g.autoscaler).toEqual({ "job.autoscaler.enabled": true, "job.autoscaler.target.utilization": 0.6 });
    expect(codeOf(() => plan((env) => env.enableAutoscaling({ "parallelism.default": 2 })))).toBe("JOB_INVALID_GRAPH");
  });
});
