import { describe, expect, it } from "vitest";
import { keyGroupRangeForSubtask } from "@riffle/shared";
import type { DataStream, RuntimeContext } from "@riffle/sdk";
import { StreamExecutionEnvironment, buildJobGraph, createOperatorChain, type OperatorChain, type ProcessingTimeService } from "@riffle/sdk/internal";
import { MemoryKeyedStateBackend, OperatorStateBackend } from "../state/index.js";
import { testRuntimeContext } from "../testing/index.js";

const ctx: RuntimeContext = testRuntimeContext({ jobId: "j", jobName: "j", taskName: "t" });

/** No timers fire in these runs: the sources are bounded and run to their end at once. */
const processingTime: ProcessingTimeService = { getCurrentProcessingTime: () => Date.now(), registerTimer: () => () => {} };

/**
 * The operators' semantics, run in-process at parallelism 1 with the real memory state backend:
 * every vertex's chain, each network edge delivering straight into the next chain's input, and the
 * records of the collect sink returned.
 */
async function run<T>(build: (env: StreamExecutionEnvironment) => DataStream<T>): Promise<T[]> {
  const env = new StreamExecutionEnvironment("run");
  build(env).collect();
  const graph = buildJobGraph(env, { name: "t", defaultParallelism: 1, defaultMaxParallelism: 128, defaultBufferTimeoutMs: 0 });
  const out: T[] = [];
  const services = { collect: async (r: readonly unknown[]) => void out.push(...(r as T[])) };
  const chains = new Map<string, OperatorChain>();
  for (const vertex of [...graph.vertices].reverse()) {
    const chain = createOperatorChain(vertex, env.functions, { ctx, services, processingTime, autoWatermarkIntervalMs: 0 }, (edgeId) => {
      const target = chains.get(graph.edges.find((e) => e.id === edgeId)!.target)!;
      return {
        collect: (r: unknown, ts?: number) => target.head.processElement(r, ts),
        emitWatermark: (wm: number) => target.head.processWatermark(wm),
        emitWatermarkStatus: (idle: boolean) => target.head.processWatermarkStatus(idle),
        collectSide() {},
      };
    });
    chains.set(vertex.id, chain);
  }
  const ordered = graph.vertices.map((v) => chains.get(v.id)!);
  for (const c of ordered) {
    await c.initializeState(() => ({
      keyed: new MemoryKeyedStateBackend({ maxParallelism: 128, keyGroupRange: keyGroupRangeForSubtask(0, 1, 128) }),
      operator: new OperatorStateBackend({ subtaskIndex: 0, parallelism: 1 }),
      isRestored: false,
    }));
  }
  for (const c of [...ordered].reverse()) await c.open();
  const source = ordered[0]!.source!;
  while (source.reader.pollNext(source.output, 2) !== "END_OF_INPUT");
  ordered[0]!.finishSource();
  for (const c of ordered) await c.endInput();
  for (const c of ordered) await c.close();
  return out;
}

describe("operators", () => {
  const rows = [
    { k: "a", v: 3, tag: "first" },
    { k: "b", v: 1, tag: "b1" },
    { k: "a", v: 1, tag: "second" },
    { k: "a", v: 5, tag: "third" },
  ];

  it("rolls sum, min and max over a field, keeping the key's first record otherwise", async () => {
    expect(await run((env) => env.fromCollection(rows).keyBy("k").sum("v"))).toEqual([
      { k: "a", v: 3, tag: "first" },
      { k: "b", v: 1, tag: "b1" },
      { k: "a", v: 4, tag: "first" },
      { k: "a", v: 9, tag: "first" },
    ]);
    // Records are shared by reference: the sum changes its own copy in state, never an input or an emitted record.
    expect(rows[0]).toEqual({ k: "a", v: 3, tag: "first" });
    expect((await run((env) => env.fromCollection(rows).keyBy("k").min("v"))).map((r) => [r.v, r.tag])).toEqual([
      [3, "first"],
      [1, "b1"],
      [1, "first"],
      [1, "first"],
    ]);
    expect((await run((env) => env.fromCollection(rows).keyBy("k").max("v"))).map((r) => r.v)).toEqual([3, 1, 3, 5]);
  });

  it("minBy and maxBy keep whole records; tuples aggregate by index; numbers by themselves", async () => {
    expect((await run((env) => env.fromCollection(rows).keyBy("k").minBy("v"))).map((r) => r.tag)).toEqual(["first", "b1", "second", "second"]);
    expect((await run((env) => env.fromCollection(rows).keyBy("k").maxBy("v"))).map((r) => r.tag)).toEqual(["first", "b1", "first", "third"]);
    expect(
      await run((env) =>
        env
          .fromElements<[string, number]>(["x", 1], ["x", 2])
          .keyBy((t) => t[0])
          .sum(1),
      ),
    ).toEqual([
      ["x", 1],
      ["x", 3],
    ]);
    expect(
      await run((env) =>
        env
          .fromElements(1, 2, 3)
          .keyBy(() => 0)
          .sum(),
      ),
    ).toEqual([1, 3, 6]);
  });

  it("sum emits copies of its accumulator made as a spread makes them, whatever the record's shape", async () => {
    const tag = Symbol("tag");
    const firsts: Record<string | symbol, unknown>[] = [
      JSON.parse('{"__proto__": "own", "k": "p", "v": 1}'),
      { k: "s", v: 1, [tag]: "kept" },
      { 2: "two", k: "n", v: 1, 1: "one" },
      {
        k: "g",
        get v() {
          return 1;
        },
      },
      { k: "x", v: 1, extra: { nested: true } },
    ];
    const seconds = firsts.map((r) => ({ k: r.k, v: 2 }));
    const out = (await run((env) =>
      env
        .fromCollection([...firsts, ...seconds])
        .keyBy("k")
        .sum("v"),
    )) as Record<string | symbol, unknown>[];
    expect(out.slice(0, firsts.length)).toEqual(firsts);
    out.slice(firsts.length).forEach((copy, i) => {
      const expected: Record<string | symbol, unknown> = { ...firsts[i]!, v: 3 };
      expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
      expect(Reflect.ownKeys(copy)).toEqual(Reflect.ownKeys(expected));
      for (const key of Reflect.ownKeys(expected)) expect(copy[key]).toEqual(expected[key]);
      expect(Object.getOwnPropertyDescriptor(copy, "v")).toMatchObject({ value: 3, writable: true, enumerable: true });
    });
    // Each emitted copy is its own object: a later sum changes none of them.
    expect(out[firsts.length]).not.toBe(out[firsts.length + 1]);
  });

  it("flatMap emits through the collector or by returning an iterable; reduce and process see keys", async () => {
    expect(await run((env) => env.fromElements("a b", "c").flatMap((s: string) => s.split(" ")))).toEqual(["a", "b", "c"]);
    expect(
      await run((env) =>
        env.fromElements("a b", "c").flatMap((s: string, out) => {
          for (const w of s.split(" ")) out.collect(w.toUpperCase());
        }),
      ),
    ).toEqual(["A", "B", "C"]);
    expect(
      await run((env) =>
        env
          .fromElements(1, 2, 3, 4)
          .keyBy((x) => x % 2)
          .reduce((a, b) => a + b),
      ),
    ).toEqual([1, 2, 4, 6]);
    expect(
      await run((env) =>
        env
          .fromElements(1, 2, 3)
          .keyBy((x) => (x % 2 === 0 ? "even" : "odd"))
          .process<string>({
            processElement(v, c, out) {
              out.collect(`${c.getCurrentKey()}:${v}`);
            },
          }),
      ),
    ).toEqual(["odd:1", "even:2", "odd:3"]);
  });

  it("opens rich functions with their context before the first record and closes them after", async () => {
    const events: string[] = [];
    class Tagger {
      private prefix = "";
      open(c: RuntimeContext) {
        this.prefix = `${c.subtaskIndex}/${c.parallelism}`;
        events.push("open");
      }
      map(v: number) {
        events.push(`map ${v}`);
        return `${this.prefix}:${v}`;
      }
      close() {
        events.push("close");
      }
    }
    expect(await run((env) => env.fromElements(1, 2).map(new Tagger()))).toEqual(["0/1:1", "0/1:2"]);
    expect(events).toEqual(["open", "map 1", "map 2", "close"]);
  });
});
