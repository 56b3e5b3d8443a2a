import { describe, expect, it } from "vitest";
import { NetworkBufferPool } from "../network/buffer-pool.js";
import { type CheckpointBarrier, END_OF_PARTITION, type NetworkBuffer } from "../network/buffer.js";
import type { InputChannel } from "../network/input-channel.js";
import { InputGate } from "../network/input-gate.js";
import { prng } from "../testing/index.js";
import { BarrierAligner } from "./barrier-aligner.js";

const barrier = (checkpointId: number): CheckpointBarrier => ({ type: "CHECKPOINT_BARRIER", checkpointId, timestamp: 0, targetDir: "", isSavepoint: false });
const data = (record: string): NetworkBuffer => ({ type: "DATA", records: [record], timestamps: undefined });

/** An input channel fed by hand: what a producer would have sent, in order. */
class TestingInputChannel implements InputChannel {
  private readonly queue: NetworkBuffer[] = [];

  constructor(
    readonly index: number,
    private readonly gate: InputGate,
  ) {
    this.description = `test channel ${gate.index}/${index}`;
  }

  readonly description: string;

  send(...buffers: NetworkBuffer[]): void {
    this.queue.push(...buffers);
    if (this.queue.length > 0) this.gate.notifyChannelNonEmpty(this);
  }

  poll(): NetworkBuffer | undefined {
    return this.queue.shift();
  }

  hasData(): boolean {
    return this.queue.length > 0;
  }

  queuedBuffers(): number {
    return this.queue.length;
  }

  close(): void {}
}

/**
 * Gates of `channelsPerGate[g]` testing channels with an aligner over all of them, read the way the
 * task's loop reads them (gates round-robin; a barrier goes to the aligner, an alignment completed by
 * a channel's end is taken after the poll). `log` holds what the task saw: records as `g/c:record`,
 * completed alignments as `checkpoint n`.
 */
function aligned(channelsPerGate: number[]) {
  const pool = new NetworkBufferPool(10, 1024);
  const gates = channelsPerGate.map((_, g) => new InputGate(g, pool, 0));
  const channels = gates.map((gate, g) =>
    Array.from({ length: channelsPerGate[g]! }, (_, c) => {
      const channel = new TestingInputChannel(c, gate);
      gate.addChannel(channel);
      return channel;
    }),
  );
  const aligner = new BarrierAligner(gates);
  const log: string[] = [];
  for (const gate of gates) {
    gate.onChannelEnded = () => {
      const r = aligner.onChannelEnded();
      if (r.aligned) log.push(`checkpoint ${r.barrier.checkpointId}`);
    };
  }
  let nextGate = 0;
  /** Reads one item, as one turn of the task's loop; false when no unblocked channel has any. */
  const step = (): boolean => {
    for (let k = 0; k < gates.length; k++) {
      const g = (nextGate + k) % gates.length;
      const item = gates[g]!.pollNext();
      if (!item) continue;
      nextGate = (g + 1) % gates.length;
      const b = item.buffer;
      if (b.type === "CHECKPOINT_BARRIER") {
        const r = aligner.onBarrier(g, item.channel, b);
        if (r.aligned) log.push(`checkpoint ${r.barrier.checkpointId}`);
      } else if (b.type === "DATA") {
        for (const r of b.records ?? []) log.push(`${g}/${item.channel}:${r as string}`);
      }
      return true;
    }
    return false;
  };
  /** Reads until every unblocked channel is drained. */
  const drain = (): void => {
    while (step()) {}
  };
  return { gates, channels, aligner, log, step, drain };
}

/** What the log holds before `checkpoint n`, as a sorted set. */
function before(log: string[], n: number): string[] {
  const at = log.indexOf(`checkpoint ${n}`);
  expect(at, `checkpoint ${n} in ${JSON.stringify(log)}`).toBeGreaterThanOrEqual(0);
  return log
    .slice(0, at)
    .filter((e) => !e.startsWith("checkpoint"))
    .sort();
}

describe("BarrierAligner", () => {
  it("aligns over every channel of both inputs' gates: the checkpoint holds exactly the records before the barrier", () => {
    // Gate 0 feeds input 1 and gate 1 input 2 of a two-input head: the aligner waits for all four channels.
    const { channels, log, drain, aligner } = aligned([2, 2]);
    const [[a, b], [c, d]] = channels as [[TestingInputChannel, TestingInputChannel], [TestingInputChannel, TestingInputChannel]];
    a.send(data("a1"), barrier(1), data("a2"));
    b.send(data("b1"), data("b2"), barrier(1), data("b3"));
    c.send(data("c1"), barrier(1), data("c2"));
    drain();
    // Input 2's second channel has sent nothing yet: the three others are held behind their barrier.
    expect(aligner.currentCheckpoint).toBe(1);
    expect(log).toEqual(expect.arrayContaining(["0/0:a1", "0/1:b1", "0/1:b2", "1/0:c1"]));
    expect(log).not.toContain("checkpoint 1");
    expect(log.filter((e) => ["0/0:a2", "0/1:b3", "1/0:c2"].includes(e))).toEqual([]);
    expect([a, b, c].map((ch) => ch.hasData())).toEqual([true, true, true]);

    d.send(data("d1"), barrier(1), data("d2"));
    drain();
    expect(before(log, 1)).toEqual(["0/0:a1", "0/1:b1", "0/1:b2", "1/0:c1", "1/1:d1"]);
    expect(log.slice(log.indexOf("checkpoint 1") + 1).sort()).toEqual(["0/0:a2", "0/1:b3", "1/0:c2", "1/1:d2"]);
    expect(aligner.currentCheckpoint).toBeUndefined();
  });

  it("keeps records of a blocked channel buffered, however many, until the last barrier arrives", () => {
    const { channels, log, drain, gates } = aligned([1, 1]);
    const [[left], [right]] = channels as [[TestingInputChannel], [TestingInputChannel]];
    left.send(barrier(1), ...Array.from({ length: 50 }, (_, i) => data(`l${i}`)));
    right.send(data("r0"));
    drain();
    // Input 1 is blocked: its 50 records stay queued while input 2 keeps flowing.
    expect(log).toEqual(["1/0:r0"]);
    expect(left.queuedBuffers()).toBe(50);
    right.send(data("r1"));
    drain();
    expect(log).toEqual(["1/0:r0", "1/0:r1"]);
    expect(gates[0]!.pollNext()).toBeUndefined();

    right.send(barrier(1));
    drain();
    expect(log.slice(0, 3)).toEqual(["1/0:r0", "1/0:r1", "checkpoint 1"]);
    expect(log.slice(3)).toEqual(Array.from({ length: 50 }, (_, i) => `0/0:l${i}`));
  });

  it("aborts the checkpoint being aligned when a newer barrier overtakes it, and drops its late barriers", () => {
    const { channels, log, drain, aligner } = aligned([2, 1]);
    const [[a, b], [c]] = channels as [[TestingInputChannel, TestingInputChannel], [TestingInputChannel]];
    a.send(data("a1"), barrier(1), data("a2"));
    drain();
    expect(aligner.currentCheckpoint).toBe(1);
    // Input 2 never saw checkpoint 1 (its upstream skipped it): barrier 2 comes first. Checkpoint 1
    // cannot complete any more; a's records after barrier 1 now belong to checkpoint 2.
    c.send(data("c1"), barrier(2), data("c2"));
    drain();
    expect(aligner.currentCheckpoint).toBe(2);
    expect(log).toContain("0/0:a2");
    // Barrier 1 arriving late on b is dropped: it must not block b or restart alignment for 1.
    b.send(data("b1"), barrier(1), data("b2"));
    drain();
    expect(log).toContain("0/1:b2");
    expect(aligner.currentCheckpoint).toBe(2);
    a.send(barrier(2), data("a3"));
    b.send(barrier(2), data("b3"));
    drain();
    expect(log.filter((e) => e.startsWith("checkpoint"))).toEqual(["checkpoint 2"]);
    expect(before(log, 2)).toEqual(["0/0:a1", "0/0:a2", "0/1:b1", "0/1:b2", "1/0:c1"]);
    expect(log.slice(log.indexOf("checkpoint 2") + 1).sort()).toEqual(["0/0:a3", "0/1:b3", "1/0:c2"]);
  });

  it("an abort of the checkpoint being aligned releases the blocked channels; its remaining barriers are dropped", () => {
    const { channels, log, drain, aligner } = aligned([1, 1]);
    const [[left], [right]] = channels as [[TestingInputChannel], [TestingInputChannel]];
    left.send(barrier(1), data("l1"));
    drain();
    expect(log).toEqual([]);
    aligner.abort(1);
    drain();
    expect(log).toEqual(["0/0:l1"]);
    right.send(data("r1"), barrier(1), data("r2"));
    drain();
    expect(log).toEqual(["0/0:l1", "1/0:r1", "1/0:r2"]);
    expect(aligner.currentCheckpoint).toBeUndefined();
    // The next checkpoint aligns as usual.
    left.send(barrier(2), data("l2"));
    right.send(barrier(2), data("r3"));
    drain();
    expect(before(log, 2)).toEqual(["0/0:l1", "1/0:r1", "1/0:r2"]);
  });

  it("an abort of a newer checkpoint than the one being aligned releases the blocked channels too", () => {
    // The JobManager gave up on checkpoint 2 (and so on 1, which it can no longer complete either):
    // the barriers of both that are still on their way are dropped, so nothing must stay blocked
    // waiting for them (Flink aborts the current alignment for a cancellation of any id >= its own).
    const { channels, log, drain, aligner } = aligned([1, 1]);
    const [[left], [right]] = channels as [[TestingInputChannel], [TestingInputChannel]];
    left.send(barrier(1), data("l1"), barrier(2), data("l2"));
    drain();
    expect(aligner.currentCheckpoint).toBe(1);
    aligner.abort(2);
    drain();
    expect(aligner.currentCheckpoint).toBeUndefined();
    expect(log).toEqual(["0/0:l1", "0/0:l2"]);
    right.send(data("r1"), barrier(1), barrier(2), data("r2"), barrier(3));
    left.send(barrier(3));
    drain();
    expect(before(log, 3)).toEqual(["0/0:l1", "0/0:l2", "1/0:r1", "1/0:r2"]);
  });

  it("a channel that ends mid-alignment counts as aligned: its end completes the checkpoint", () => {
    const { channels, log, drain, gates } = aligned([1, 2]);
    const [[a], [b, c]] = channels as [[TestingInputChannel], [TestingInputChannel, TestingInputChannel]];
    a.send(data("a1"), barrier(1), data("a2"));
    b.send(data("b1"), barrier(1), data("b2"));
    c.send(data("c1"));
    drain();
    expect(log).not.toContain("checkpoint 1");
    // c's producer finished before it got checkpoint 1: its end is the last thing alignment waited for.
    c.send(data("c2"), END_OF_PARTITION);
    drain();
    expect(before(log, 1)).toEqual(["0/0:a1", "1/0:b1", "1/1:c1", "1/1:c2"]);
    expect(log.slice(log.indexOf("checkpoint 1") + 1).sort()).toEqual(["0/0:a2", "1/0:b2"]);
    expect(gates[1]!.isChannelEnded(1)).toBe(true);
    // Later checkpoints do not wait for the ended channel either.
    a.send(barrier(2));
    b.send(barrier(2));
    drain();
    expect(log.at(-1)).toBe("checkpoint 2");
  });

  it("seeded interleavings over two inputs, with barriers and channel ends: every checkpoint holds exactly the records before its barrier", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      const perGate = [1 + Math.floor(random() * 3), 1 + Math.floor(random() * 3)];
      const { channels, log, step, drain } = aligned(perGate);
      const CHECKPOINTS = 3;
      // Per channel, what its producer sends: records r0.. with barriers 1..3 in between; some
      // channels end early, before one of the barriers.
      type Script = { channel: TestingInputChannel; items: NetworkBuffer[]; before: Map<number, string[]>; all: string[] };
      const scripts: Script[] = channels.flatMap((gateChannels, g) =>
        gateChannels.map((channel, c) => {
          const name = `${g}/${c}`;
          const endsAfter = random() < 0.3 ? Math.floor(random() * CHECKPOINTS) : CHECKPOINTS;
          const items: NetworkBuffer[] = [];
          const sent: string[] = [];
          const beforeBarrier = new Map<number, string[]>();
          let n = 0;
          for (let cp = 1; cp <= CHECKPOINTS + 1; cp++) {
            const records = Math.floor(random() * 4);
            for (let i = 0; i < records; i++) {
              items.push(data(`r${n}`));
              sent.push(`${name}:r${n++}`);
            }
            if (cp > endsAfter) {
              items.push(END_OF_PARTITION);
              break;
            }
            if (cp <= CHECKPOINTS) {
              items.push(barrier(cp));
              beforeBarrier.set(cp, [...sent]);
            }
          }
          return { channel, items, before: beforeBarrier, all: sent };
        }),
      );
      // Producers send one item at a time in a random order while the task reads now and then.
      for (;;) {
        const pending = scripts.filter((s) => s.items.length > 0);
        if (pending.length === 0) break;
        const s = pending[Math.floor(random() * pending.length)]!;
        s.channel.send(s.items.shift()!);
        if (random() < 0.5) step();
      }
      drain();
      for (let cp = 1; cp <= CHECKPOINTS; cp++) {
        // A channel that ended before barrier cp contributes all it sent.
        const expected = scripts.flatMap((s) => s.before.get(cp) ?? s.all);
        expect(before(log, cp), `seed ${seed}, checkpoint ${cp}`).toEqual(expected.sort());
      }
    }
  });
});
