import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from "@riffle/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { type KeyedStateBackend, createKeyedStateBackend } from "./index.js";

/** A clock the test moves by hand. */
class TestingClock {
  now = 1_000_000;
  readonly read = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function backendOf(type: "memory" | "leveldb", clock: TestingClock): Promise<KeyedStateBackend> {
  const dir = await mkdtemp(join(tmpdir(), "riffle-ttl-"));
  const backend = await createKeyedStateBackend({
    type,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
    clock: clock.read,
    directory: join(dir, "db"),
  });
  cleanups.push(async () => {
    await backend.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  return backend;
}

describe.each(["memory", "leveldb"] as const)("time-to-live on the %s backend", (type) => {
  it("expires values a TTL after their last write (OnCreateAndWrite)", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const v = b.getState(new ValueStateDescriptor<string>("v", "default").enableTimeToLive({ ttlMs: 100 }));
    b.setCurrentKey("k");
    v.update("x");
    clock.advance(99);
    expect(v.value()).toBe("x");
    // Reads do not extend it.
    clock.advance(1);
    expect(v.value()).toBe("default");
    v.update("y");
    clock.advance(60);
    v.update("z");
    clock.advance(60);
    expect(v.value()).toBe("z");
  });

  it("extends on reads with OnReadAndWrite", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const v = b.getState(new ValueStateDescriptor<number>("v").enableTimeToLive({ ttlMs: 100, updateType: "OnReadAndWrite" }));
    b.setCurrentKey("k");
    v.update(1);
    for (let i = 0; i < 5; i++) {
      clock.advance(80);
      expect(v.value()).toBe(1);
    }
    clock.advance(100);
    expect(v.value()).toBeUndefined();
  });

  it("expires list elements one by one", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const l = b.getListState(new ListStateDescriptor<string>("l").enableTimeToLive({ ttlMs: 100 }));
    b.setCurrentKey("k");
    l.add("a");
    clock.advance(50);
    l.addAll(["b", "c"]);
    expect(l.get()).toEqual(["a", "b", "c"]);
    clock.advance(50);
    expect(l.get()).toEqual(["b", "c"]);
    clock.advance(50);
    expect(l.get()).toEqual([]);
    l.update(["d"]);
    clock.advance(10);
    expect(l.get()).toEqual(["d"]);
  });

  it("restamps list elements on read with OnReadAndWrite", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const l = b.getListState(new ListStateDescriptor<string>("l").enableTimeToLive({ ttlMs: 100, updateType: "OnReadAndWrite" }));
    b.setCurrentKey("k");
    l.add("a");
    clock.advance(90);
    expect(l.get()).toEqual(["a"]);
    clock.advance(90);
    expect(l.get()).toEqual(["a"]);
    clock.advance(100);
    expect(l.get()).toEqual([]);
  });

  it("expires map entries one by one", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const m = b.getMapState(new MapStateDescriptor<string, number>("m").enableTimeToLive({ ttlMs: 100 }));
    b.setCurrentKey("k");
    m.put("old", 1);
    clock.advance(60);
    m.put("new", 2);
    clock.advance(40);
    expect(m.get("old")).toBeUndefined();
    expect(m.contains("old")).toBe(false);
    expect(m.entries()).toEqual([["new", 2]]);
    expect(m.isEmpty()).toBe(false);
    clock.advance(60);
    expect(m.isEmpty()).toBe(true);
    expect(m.keys()).toEqual([]);
  });

  it("extends map entries on read with OnReadAndWrite", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const m = b.getMapState(new MapStateDescriptor<string, number>("m").enableTimeToLive({ ttlMs: 100, updateType: "OnReadAndWrite" }));
    b.setCurrentKey("k");
    m.put("a", 1);
    m.put("b", 2);
    clock.advance(80);
    expect(m.get("a")).toBe(1);
    clock.advance(80);
    expect(m.get("a")).toBe(1);
    expect(m.get("b")).toBeUndefined();
    clock.advance(80);
    expect(m.values()).toEqual([1]);
  });

  it("expires reducing and aggregating state; adding after expiry starts over", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const sum = b.getReducingState(new ReducingStateDescriptor<number>("sum", (x, y) => x + y).enableTimeToLive({ ttlMs: 100 }));
    const count = b.getAggregatingState(
      new AggregatingStateDescriptor<string, number, string>("count", {
        createAccumulator: () => 0,
        add: (_v, acc) => acc + 1,
        getResult: (acc) => `n=${acc}`,
      }).enableTimeToLive({ ttlMs: 100 }),
    );
    b.setCurrentKey("k");
    sum.add(1);
    sum.add(2);
    count.add("a");
    count.add("b");
    clock.advance(99);
    expect(sum.get()).toBe(3);
    expect(count.get()).toBe("n=2");
    clock.advance(1);
    expect(sum.get()).toBeUndefined();
    expect(count.get()).toBeUndefined();
    sum.add(5);
    count.add("c");
    expect(sum.get()).toBe(5);
    expect(count.get()).toBe("n=1");
  });

  it("expires each key on its own", async () => {
    const clock = new TestingClock();
    const b = await backendOf(type, clock);
    const v = b.getState(new ValueStateDescriptor<number>("v").enableTimeToLive({ ttlMs: 100 }));
    for (let i = 0; i < 10; i++) {
      b.setCurrentKey(i);
      v.update(i);
      clock.advance(20);
    }
    // Key i was written at 20·i ms and it is now 200 ms: keys 0..5 are 100 ms old or older.
    const live: number[] = [];
    for (let i = 0; i < 10; i++) {
      b.setCurrentKey(i);
      if (v.value() !== undefined) live.push(i);
    }
    expect(live).toEqual([6, 7, 8, 9]);
  });
});
