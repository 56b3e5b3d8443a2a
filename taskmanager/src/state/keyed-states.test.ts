import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KeyGroupRange, RiffleError, keyGroupOf, keyGroupRangeForSubtask } from "@riffle/shared";
import { AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from "@riffle/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { type KeyedStateBackend, createKeyedStateBackend } from "./index.js";

const MAX_P = 128;
const FULL: KeyGroupRange = { start: 0, end: MAX_P - 1 };
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function backendOf(type: "memory" | "leveldb", range: KeyGroupRange = FULL): Promise<KeyedStateBackend> {
  const dir = await mkdtemp(join(tmpdir(), "riffle-state-"));
  const backend = await createKeyedStateBackend({ type, maxParallelism: MAX_P, keyGroupRange: range, directory: join(dir, "db"), cacheMaxEntries: 64 });
  cleanups.push(async () => {
    await backend.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  return backend;
}

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as RiffleError).code;
  }
  return undefined;
}

describe.each(["memory", "leveldb"] as const)("keyed state on the %s backend", (type) => {
  it("keeps a value per key, with a default", async () => {
    const b = await backendOf(type);
    const count = b.getState(new ValueStateDescriptor<number>("count", 0));
    for (const key of ["a", "b", "a", "a", 7, "b"]) {
      b.setCurrentKey(key);
      count.update(count.value()! + 1);
    }
    b.setCurrentKey("a");
    expect(count.value()).toBe(3);
    b.setCurrentKey("b");
    expect(count.value()).toBe(2);
    b.setCurrentKey(7);
    expect(count.value()).toBe(1);
    count.clear();
    expect(count.value()).toBe(0);
    count.update(5);
    count.update(undefined);
    expect(count.value()).toBe(0);
    b.setCurrentKey("never");
    expect(b.getState(new ValueStateDescriptor<string>("other")).value()).toBeUndefined();
  });

  it("returns the same state object for the same name", async () => {
    const b = await backendOf(type);
    const d = new ValueStateDescriptor<number>("x");
    expect(b.getState(d)).toBe(b.getState(new ValueStateDescriptor<number>("x")));
  });

  it("keeps lists", async () => {
    const b = await backendOf(type);
    const list = b.getListState(new ListStateDescriptor<{ n: number }>("list"));
    b.setCurrentKey("k");
    expect(list.get()).toEqual([]);
    list.add({ n: 1 });
    list.addAll([{ n: 2 }, { n: 3 }]);
    list.addAll([]);
    expect(list.get()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    list.get().push({ n: 99 }); // a copy
    expect(list.get()).toHaveLength(3);
    b.setCurrentKey("other");
    expect(list.get()).toEqual([]);
    list.update([{ n: 9 }]);
    b.setCurrentKey("k");
    list.update([{ n: 4 }]);
    expect(list.get()).toEqual([{ n: 4 }]);
    list.update([]);
    expect(list.get()).toEqual([]);
    list.add({ n: 5 });
    list.clear();
    expect(list.get()).toEqual([]);
    b.setCurrentKey("other");
    expect(list.get()).toEqual([{ n: 9 }]);
    expect(errorCode(() => list.add(undefined as unknown as { n: number }))).toBe("STATE_INVALID_ARGUMENT");
  });

  it("keeps maps, comparing keys by value", async () => {
    const b = await backendOf(type);
    const map = b.getMapState(new MapStateDescriptor<unknown, string>("map"));
    b.setCurrentKey("k");
    expect(map.isEmpty()).toBe(true);
    map.put("a", "A");
    map.put(1, "one");
    map.put("1", "string one");
    map.put({ x: 1 }, "object");
    map.put("\u0000n1", "nul string");
    expect(map.get(1)).toBe("one");
    expect(map.get("1")).toBe("string one");
    expect(map.get({ x: 1 })).toBe("object");
    expect(map.get("\u0000n1")).toBe("nul string");
    expect(map.contains("a")).toBe(true);
    expect(map.contains("b")).toBe(false);
    expect(map.keys()).toEqual(["a", 1, "1", { x: 1 }, "\u0000n1"]);
    map.remove("a");
    map.remove("missing");
    expect(map.values()).toEqual(["one", "string one", "object", "nul string"]);
    map.putAll([
      [2, "two"],
      [1, "uno"],
    ]);
    expect(map.entries()).toContainEqual([1, "uno"]);
    expect(map.entries()).toContainEqual([2, "two"]);
    b.setCurrentKey("k2");
    expect(map.isEmpty()).toBe(true);
    map.put("z", "Z");
    b.setCurrentKey("k");
    for (const k of map.keys()) map.remove(k);
    expect(map.isEmpty()).toBe(true);
    b.setCurrentKey("k2");
    expect(map.entries()).toEqual([["z", "Z"]]);
    map.clear();
    expect(map.get("z")).toBeUndefined();
  });

  it("reduces", async () => {
    const b = await backendOf(type);
    const max = b.getReducingState(new ReducingStateDescriptor<number>("max", (x, y) => Math.max(x, y)));
    const sum = b.getReducingState(new ReducingStateDescriptor<number>("sum", { reduce: (x: number, y: number) => x + y }));
    b.setCurrentKey("k");
    expect(max.get()).toBeUndefined();
    for (const v of [3, 9, 2]) {
      max.add(v);
      sum.add(v);
    }
    expect(max.get()).toBe(9);
    expect(sum.get()).toBe(14);
    max.clear();
    expect(max.get()).toBeUndefined();
    expect(sum.get()).toBe(14);
  });

  it("aggregates with an accumulator changed in place", async () => {
    const b = await backendOf(type);
    const avg = b.getAggregatingState(
      new AggregatingStateDescriptor<number, { sum: number; n: number }, number>("avg", {
        createAccumulator: () => ({ sum: 0, n: 0 }),
        add: (v, acc) => {
          acc.sum += v;
          acc.n++;
          return acc;
        },
        getResult: (acc) => acc.sum / acc.n,
      }),
    );
    for (let i = 0; i < 200; i++) {
      b.setCurrentKey(`k${i % 100}`);
      avg.add(i);
    }
    b.setCurrentKey("k1");
    expect(avg.get()).toBe(51);
    b.setCurrentKey("nothing");
    expect(avg.get()).toBeUndefined();
  });

  it("scopes state by namespace", async () => {
    const b = await backendOf(type);
    const v = b.getState(new ValueStateDescriptor<string>("v"));
    b.setCurrentKey("k");
    v.update("key's own");
    b.setCurrentNamespace("window-1");
    expect(b.getCurrentNamespace()).toBe("window-1");
    expect(v.value()).toBeUndefined();
    v.update("w1");
    b.setCurrentNamespace("window-2");
    v.update("w2");
    b.setCurrentKey("other");
    expect(v.value()).toBeUndefined();
    b.setCurrentKey("k");
    expect(v.value()).toBe("w2");
    b.setCurrentNamespace("window-1");
    expect(v.value()).toBe("w1");
    v.clear();
    b.setCurrentNamespace("");
    expect(v.value()).toBe("key's own");
    // (key "3:ab", namespace "") and (key "ab"...) style collisions cannot happen.
    b.setCurrentKey("a");
    b.setCurrentNamespace("b");
    v.update("a/b");
    b.setCurrentKey("ab");
    b.setCurrentNamespace("");
    expect(v.value()).toBeUndefined();
  });

  it("keeps many keys with several states apart", async () => {
    const b = await backendOf(type);
    const v = b.getState(new ValueStateDescriptor<number>("v"));
    const l = b.getListState(new ListStateDescriptor<number>("l"));
    for (let i = 0; i < 1000; i++) {
      b.setCurrentKey(i);
      v.update(i * 2);
      l.add(i);
      l.add(-i);
    }
    for (let i = 999; i >= 0; i--) {
      b.setCurrentKey(i);
      expect(v.value()).toBe(i * 2);
      expect(l.get()).toEqual([i, -i]);
    }
  });

  it("refuses to use a state name as another kind or with another TTL setting", async () => {
    const b = await backendOf(type);
    b.getState(new ValueStateDescriptor<number>("s"));
    expect(errorCode(() => b.getListState(new ListStateDescriptor<number>("s")))).toBe("STATE_INCOMPATIBLE");
    expect(errorCode(() => b.getState(new ValueStateDescriptor<number>("s").enableTimeToLive({ ttlMs: 10 })))).toBe("STATE_INCOMPATIBLE");
    expect(errorCode(() => b.getState(new ListStateDescriptor<number>("t") as unknown as ValueStateDescriptor<number>))).toBe("STATE_INVALID_ARGUMENT");
  });

  it("refuses keys outside the subtask's key-group range, naming the group and the range", async () => {
    const range = keyGroupRangeForSubtask(1, 4, MAX_P);
    const b = await backendOf(type, range);
    const v = b.getState(new ValueStateDescriptor<number>("v"));
    let inside: string | undefined;
    let outside: string | undefined;
    for (let i = 0; inside === undefined || outside === undefined; i++) {
      const kg = keyGroupOf(`key-${i}`, MAX_P);
      if (kg >= range.start && kg <= range.end) inside ??= `key-${i}`;
      else outside ??= `key-${i}`;
    }
    b.setCurrentKey(inside);
    v.update(1);
    expect(b.getCurrentKeyGroup()).toBe(keyGroupOf(inside, MAX_P));
    let error: RiffleError | undefined;
    try {
      b.setCurrentKey(outside);
    } catch (err) {
      error = err as RiffleError;
    }
    expect(error).toBeInstanceOf(RiffleError);
    expect(error!.code).toBe("INTERNAL");
    expect(error!.message).toContain(`key group ${keyGroupOf(outside, MAX_P)}`);
    expect(error!.message).toContain(`[${range.start}, ${range.end}]`);
    // No state access goes to the refused key (nor silently to the previous one).
    expect(errorCode(() => v.value())).toBe("STATE_INVALID_ARGUMENT");
    b.setCurrentKey(inside);
    expect(v.value()).toBe(1);
  });

  it("refuses access without a current key", async () => {
    const b = await backendOf(type);
    const v = b.getState(new ValueStateDescriptor<number>("v"));
    expect(errorCode(() => v.value())).toBe("STATE_INVALID_ARGUMENT");
  });
});
