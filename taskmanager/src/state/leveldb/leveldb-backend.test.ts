import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RiffleError } from "@riffle/shared";
import { ListStateDescriptor, ValueStateDescriptor } from "@riffle/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryKeyedStateBackend } from "../memory/memory-backend.js";
import { LevelDbKeyedStateBackend } from "./leveldb-backend.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "riffle-leveldb-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("leveldb backend", () => {
  it("stays correct with far more keys than its cache holds, and removes its database on dispose", async () => {
    const directory = join(root, "big");
    const maxEntries = 10_000;
    const b = await LevelDbKeyedStateBackend.create({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 }, directory, cacheMaxEntries: maxEntries });
    const count = b.getState(new ValueStateDescriptor<number>("count", 0));
    const seen = b.getListState(new ListStateDescriptor<number>("seen"));
    const N = 200_000;
    let maxCached = 0;
    const pass = async (round: number) => {
      for (let i = 0; i < N; i++) {
        b.setCurrentKey(`key-${i}`);
        count.update(count.value()! + 1);
        if (i % 10 === 0) seen.add(round);
        if (i % 100 === 0) {
          maxCached = Math.max(maxCached, b.stats().cachedRows);
          // Pause while the backend asks for it, as a task does, however slowly the writes land.
          if (!b.isAvailable()) await b.available();
        }
        // Let background writes land, as a task's mailbox loop does between slices.
        if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    await pass(1);
    await pass(2);
    // Every miss of the second pass was read back from the database.
    expect(b.stats().reads).toBeGreaterThan(N);
    // The bound at which the backend asks to pause, plus the rows one check interval can add.
    expect(maxCached).toBeLessThanOrEqual(maxEntries * 1.5 + 2 * 100);
    for (let i = 0; i < N; i++) {
      b.setCurrentKey(`key-${i}`);
      if (count.value() !== 2) expect({ key: i, count: count.value() }).toEqual({ key: i, count: 2 });
      if (i % 10 === 0 && seen.get().join() !== "1,2") expect({ key: i, seen: seen.get() }).toEqual({ key: i, seen: [1, 2] });
    }
    await b.flushed();

    // A snapshot holds every key, and restores into the memory backend.
    const checkpoint = join(root, "chk-big");
    const handle = await b.snapshot().write(checkpoint);
    const restored = new MemoryKeyedStateBackend({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 } });
    await restored.restore(checkpoint, [handle]);
    expect(restored.rowCount()).toBe(N);
    const restoredCount = restored.getState(new ValueStateDescriptor<number>("count", 0));
    restored.setCurrentKey("key-123456");
    expect(restoredCount.value()).toBe(2);

    expect(await exists(directory)).toBe(true);
    await b.dispose();
    expect(await exists(directory)).toBe(false);
    expect(() => {
      b.setCurrentKey("key-1");
      count.value();
    }).toThrow(/disposed/);
  });

  it("refuses a directory that already holds a database", async () => {
    const directory = join(root, "taken");
    const first = await LevelDbKeyedStateBackend.create({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 }, directory });
    let error: RiffleError | undefined;
    try {
      await LevelDbKeyedStateBackend.create({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 }, directory });
    } catch (err) {
      error = err as RiffleError;
    }
    expect(error?.code).toBe("STATE_BACKEND_FAILED");
    expect(error?.message).toContain(directory);
    await first.dispose();
  });

  it("refuses invalid cache settings", async () => {
    await expect(
      LevelDbKeyedStateBackend.create({ maxParallelism: 128, keyGroupRange: { start: 0, end: 127 }, directory: join(root, "bad"), cacheMaxEntries: 0 }),
    ).rejects.toThrow(/cacheMaxEntries/);
    expect(await exists(join(root, "bad"))).toBe(false);
  });

  it("asks for back-pressure while its cache is far past its bound, until writes land", async () => {
    const b = await LevelDbKeyedStateBackend.create({
      maxParallelism: 128,
      keyGroupRange: { start: 0, end: 127 },
      directory: join(root, "pressure"),
      cacheMaxEntries: 100,
    });
    const v = b.getState(new ValueStateDescriptor<number>("v"));
    // Without yielding, nothing can be written: every row stays dirty and the cache grows.
    let i = 0;
    while (b.isAvailable()) {
      b.setCurrentKey(i);
      v.update(i++);
    }
    expect(i).toBe(150);
    await b.available();
    expect(b.isAvailable()).toBe(true);
    expect(b.stats().cachedRows).toBeLessThanOrEqual(100);
    for (let k = 0; k < i; k++) {
      b.setCurrentKey(k);
      expect(v.value()).toBe(k);
    }
    await b.dispose();
  });

  it("writes deletes through: a cleared value stays cleared after eviction", async () => {
    const b = await LevelDbKeyedStateBackend.create({
      maxParallelism: 128,
      keyGroupRange: { start: 0, end: 127 },
      directory: join(root, "deletes"),
      cacheMaxEntries: 100,
      flushThreshold: 10,
      flushBatchSize: 16,
    });
    const v = b.getState(new ValueStateDescriptor<number>("v"));
    for (let i = 0; i < 1000; i++) {
      b.setCurrentKey(i);
      v.update(i);
    }
    await b.flushed();
    for (let i = 0; i < 1000; i += 2) {
      b.setCurrentKey(i);
      v.clear();
    }
    for (let round = 0; round < 3; round++) {
      await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 1000; i++) {
        b.setCurrentKey(i);
        expect(v.value()).toBe(i % 2 === 0 ? undefined : i);
      }
    }
    await b.dispose();
  });
});

describe("leveldb snapshots of any text", () => {
  it("round-trips keys and namespaces of any text and values of any size with the memory backend", async () => {
    const opts = { maxParallelism: 128, keyGroupRange: { start: 0, end: 127 } };
    const keys = ["", "k", "é", "日本語", "😀 pair", "a\u0000b", "x".repeat(40), "ü".repeat(100), "long".repeat(0x4000)];
    const namespaces = ["", "w", "ñ window"];
    const stored = (i: number): unknown => [i, "v".repeat(i % 3 === 0 ? 70_000 : i), { bytes: Buffer.alloc(i % 300, i) }];
    const b = await LevelDbKeyedStateBackend.create({ ...opts, directory: join(root, "text"), cacheMaxEntries: 4 });
    const v = b.getState(new ValueStateDescriptor<unknown>("v"));
    let i = 0;
    for (const key of keys) {
      b.setCurrentKey(key);
      for (const ns of namespaces) {
        b.setCurrentNamespace(ns);
        v.update(stored(i++));
      }
      b.setCurrentNamespace("");
    }
    await b.flushed();
    const check = (target: { setCurrentKey(k: unknown): void; setCurrentNamespace(ns: string): void }, state: { value(): unknown }) => {
      let j = 0;
      for (const key of keys) {
        target.setCurrentKey(key);
        for (const ns of namespaces) {
          target.setCurrentNamespace(ns);
          expect({ key, ns, value: state.value() }).toEqual({ key, ns, value: stored(j++) });
        }
        target.setCurrentNamespace("");
      }
    };
    // Read back through the small cache, from the database.
    check(b, v);
    const first = join(root, "chk-text-1");
    const handle = await b.snapshot().write(first);
    const memory = new MemoryKeyedStateBackend(opts);
    await memory.restore(first, [handle]);
    expect(memory.rowCount()).toBe(keys.length * namespaces.length);
    check(memory, memory.getState(new ValueStateDescriptor<unknown>("v")));
    const second = join(root, "chk-text-2");
    const memoryHandle = await memory.snapshot().write(second);
    const again = await LevelDbKeyedStateBackend.create({ ...opts, directory: join(root, "text-again"), cacheMaxEntries: 4 });
    await again.restore(second, [memoryHandle]);
    check(again, again.getState(new ValueStateDescriptor<unknown>("v")));
    await b.dispose();
    await again.dispose();
  });
});
