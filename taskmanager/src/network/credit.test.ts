import { afterEach, describe, expect, it, vi } from "vitest";
import { NetworkBufferPool } from "./buffer-pool.js";
import type { InputItem } from "./buffer.js";
import { InputGate } from "./input-gate.js";
import { RemoteInputChannel } from "./remote-channel.js";
import { MAX_BUFFERS_PER_MESSAGE, RemoteSubpartitionView } from "./exchange-server.js";
import { ResultPartition } from "./result-partition.js";
import { type DecodedRecords, RecordDeserializer } from "./serialization.js";
import { ExchangeHarness, PAD, produce, writerOf } from "../testing/exchange-harness.js";

/**
 * The credit protocol between two network stacks over a real gRPC connection (a slot's data server
 * and a consumer slot's streams, as between the slots of two TaskManagers), with separate segment
 * pools, as two TaskManagers would have.
 */
const harness = new ExchangeHarness();
afterEach(() => harness.cleanUp());
const producerSide = (segments: number) => harness.producerSide(segments);
const consumerSide = (segments: number, floating: number) => harness.consumerSide(segments, floating);

const ids = (b: InputItem) => (b.type === "DATA" ? (b.records as Array<{ i: number }>).map((r) => r.i).filter((i) => i >= 0) : []);

/** Reads `gate` until it is finished (within `timeoutMs`), handing each item to `onItem`. */
async function readToEnd(gate: InputGate, onItem: (item: NonNullable<ReturnType<InputGate["pollNext"]>>) => void, timeoutMs = 5000): Promise<void> {
  await vi.waitFor(
    () => {
      for (let item = gate.pollNext(); item; item = gate.pollNext()) onItem(item);
      expect(gate.isFinished()).toBe(true);
    },
    { timeout: timeoutMs },
  );
}

describe("credit-based flow control", () => {
  it("sends nothing without credit, and backlog brings floating buffers", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p1", 1, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    produce(partition, 20);

    const cons = consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p1", 0);

    // Initial credit 2 (exclusive); the first buffer reports backlog, so the channel borrows the
    // gate's 8 floating buffers: 10 buffers arrive and then the sender runs out of credit.
    await vi.waitFor(() => expect(ch.buffersReceived).toBe(10), { timeout: 5000 });
    expect(ch.creditsAnnounced).toBe(8);
    expect(partition.subpartition(0).queuedBuffers).toBe(10);
    expect(cons.pool.availableSegments).toBe(100 - 2 - 8);

    // Reading one buffer frees one; with nine more to read the channel waits for a second one and
    // announces both in one message: exactly two more arrive.
    const first = cons.gate.pollNext();
    expect(first && ids(first.buffer)).toEqual([0]);
    expect(ch.creditsAnnounced).toBe(8);
    const second = cons.gate.pollNext();
    expect(second && ids(second.buffer)).toEqual([1]);
    expect(ch.creditsAnnounced).toBe(10);
    await vi.waitFor(() => expect(ch.buffersReceived).toBe(12), { timeout: 5000 });
    expect(partition.subpartition(0).queuedBuffers).toBe(8);
    expect(ch.outstandingCredit).toBe(0);

    // Reading everything delivers every buffer in order, and the sender never exceeded its credit.
    const seen = [0, 1];
    partition.finish();
    await readToEnd(cons.gate, (item) => seen.push(...ids(item.buffer)));
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(cons.failures).toEqual([]);
    expect(prod.pool.availableSegments).toBe(100);
  });

  it("a channel without credit does not stall another channel on the same connection", async () => {
    const prod = await producerSide(200);
    const partition = new ResultPartition("p2", 2, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    const writer = writerOf(partition, "rebalance");
    for (let i = 0; i < 50; i++) {
      writer.collect({ i, pad: PAD }); // subpartition 0
      writer.collect({ i: 1000 + i, pad: PAD }); // subpartition 1
      writer.flush();
    }
    expect(writer.finishIfFlushed()).toBe(true);

    const cons = consumerSide(100, 8);
    const stalled = cons.channel(0, prod.address, "p2", 0);
    const flowing = cons.channel(1, prod.address, "p2", 1);

    // Read only the second channel: it must get all its 50 buffers and its end of partition while
    // the first, never read, sits at its credit (its 2 exclusive buffers plus whatever it borrowed).
    const got: number[] = [];
    let flowingEnded = false;
    await vi.waitFor(
      () => {
        for (let b = flowing.poll(); b; b = flowing.poll()) {
          if (b.type === "DATA") got.push(...ids(b));
          else if (b.type === "END_OF_PARTITION") flowingEnded = true;
        }
        expect(flowingEnded).toBe(true);
      },
      { timeout: 10_000 },
    );
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
    expect(stalled.buffersReceived).toBeLessThanOrEqual(10);
    expect(stalled.buffersReceived).toBeGreaterThanOrEqual(2);
    // A buffer lent to the stalled channel after the other ended may still be on the wire.
    await vi.waitFor(() => expect(partition.subpartition(0).queuedBuffers).toBe(51 - stalled.buffersReceived), { timeout: 5_000 });
    expect(cons.failures).toEqual([]);
  });

  it("one credit carries several small buffers, up to one segment of bytes", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p3", 1, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    const writer = writerOf(partition);
    for (let i = 0; i < 30; i++) {
      writer.collect({ i, pad: "" });
      writer.flush();
    }
    expect(writer.finishIfFlushed()).toBe(true);
    const cons = consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p3", 0);
    const seen: number[] = [];
    await readToEnd(cons.gate, (item) => seen.push(...ids(item.buffer)));
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // 30 tiny buffers and the end of partition arrived in 2 messages: one credit each.
    expect(ch.buffersReceived).toBe(2);
    expect(prod.pool.availableSegments).toBe(100);
  });

  it("queued data buffers travel several to a message, each on a credit of its own", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p6", 1, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    produce(partition, 20);
    const cons = consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p6", 0);

    // The initial credit (2) brings two buffers in one message; their backlog (18) brings the gate's
    // 8 floating buffers, whose credit brings 8 more in two messages of MAX_BUFFERS_PER_MESSAGE (4).
    await vi.waitFor(() => expect(ch.buffersReceived).toBe(10), { timeout: 5000 });
    expect(MAX_BUFFERS_PER_MESSAGE).toBe(4);
    expect(ch.messagesReceived).toBe(3);
    expect(partition.subpartition(0).queuedBuffers).toBe(10);
    expect(ch.outstandingCredit).toBe(0);
    expect(cons.pool.availableSegments).toBe(100 - 2 - 8);

    // The rest, with the end of partition (an event: a message of its own), in order.
    const seen: number[] = [];
    partition.finish();
    await readToEnd(cons.gate, (item) => seen.push(...ids(item.buffer)));
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(ch.buffersReceived).toBe(21);
    expect(ch.messagesReceived).toBeLessThan(21);
    expect(cons.failures).toEqual([]);
    expect(prod.pool.availableSegments).toBe(100);
    expect(cons.pool.availableSegments).toBe(100 - 2);
  });

  it("a message of several buffers spends one permit per buffer: beyond the credit, the channel fails", () => {
    const pool = new NetworkBufferPool(10, 1024);
    const gate = new InputGate(0, pool, 0);
    const failures: Error[] = [];
    const ch = new RemoteInputChannel(0, "c", { notifyChannelNonEmpty: () => {}, notifyChannelFailed: (_c, e) => failures.push(e) }, gate, 2, () => {});
    const data = new Uint8Array(4);
    ch.onBuffer({ sequence: 0, backlog: 0, type: "DATA", data, moreData: [data, data] });
    expect(ch.buffersReceived).toBe(2);
    expect(failures.map((e) => e.message)).toEqual(["c: the sender sent a buffer without credit"]);
  });

  it("reuses each sent buffer's ArrayBuffer once gRPC has written it, and the data stays whole through reuse", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p5", 1, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    produce(partition, 60);
    partition.finish();
    const allocatedBefore = RemoteSubpartitionView.arrayBuffersAllocated;
    const cons = consumerSide(100, 8);
    cons.channel(0, prod.address, "p5", 0);
    const seen: number[] = [];
    await readToEnd(
      cons.gate,
      (item) => {
        if (item.buffer.type === "DATA") for (const r of item.buffer.records as Array<{ i: number; pad: string }>) if (r.pad === PAD) seen.push(r.i);
      },
      10_000,
    );
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // 60 buffers went out on at most 10 credits in flight: the producer filled the ArrayBuffers it got
    // back again instead of allocating one per buffer.
    expect(RemoteSubpartitionView.arrayBuffersAllocated - allocatedBefore).toBeLessThanOrEqual(20);
    expect(cons.failures).toEqual([]);
    expect(prod.pool.availableSegments).toBe(100);
  });

  it("a record larger than a segment spans buffers, each on a credit, and arrives whole", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p4", 1, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    const writer = writerOf(partition);
    const big = "b".repeat(200 * 1024);
    writer.collect({ i: 0, pad: big }, 42);
    writer.collect({ i: 1, pad: "" });
    expect(writer.finishIfFlushed()).toBe(true);
    // 200 KiB in 32 KiB segments: 7 buffers, then the end of partition.
    expect(partition.subpartition(0).queuedBuffers).toBe(8);
    const cons = consumerSide(100, 0);
    const ch = cons.channel(0, prod.address, "p4", 0);
    const records: Array<{ i: number; pad: string }> = [];
    const timestamps: Array<number | undefined> = [];
    await readToEnd(cons.gate, (item) => {
      if (item.buffer.type !== "DATA") return;
      records.push(...(item.buffer.records as typeof records));
      timestamps.push(...(item.buffer.timestamps ?? item.buffer.records.map(() => undefined)));
    });
    expect(records.map((r) => r.i)).toEqual([0, 1]);
    expect(records[0]!.pad).toBe(big);
    expect(timestamps[0]).toBe(42);
    // With only its 2 exclusive credits, the channel never held more than 2 segments' worth.
    expect(ch.buffersReceived).toBe(8);
    expect(cons.failures).toEqual([]);
  });

  it("a consumer that stops reading before the end of partition releases its subpartition, so a finished producer's segments return", async () => {
    // A finished producer's partition is released when a task of its job fails or is cancelled in the
    // producer's slot; in a slot where every task of the job has finished, only the reader's leaving
    // tells the producer that nobody will read the rest.
    const prod = await producerSide(100);
    const partition = new ResultPartition("p6", 2, prod.pool, (rp) => prod.partitions.release(rp.id));
    prod.partitions.register(partition, "job");
    const writer = writerOf(partition, "rebalance");
    for (let i = 0; i < 20; i++) {
      writer.collect({ i, pad: PAD }); // subpartition 0
      writer.collect({ i: 1000 + i, pad: PAD }); // subpartition 1
      writer.flush();
    }
    expect(writer.finishIfFlushed()).toBe(true);
    expect(prod.pool.availableSegments).toBe(100 - 40);

    // Subpartition 0 is read to its end in place; subpartition 1's remote consumer takes what its
    // credit allows, then fails (its task's gates close).
    const local = partition.subpartition(0);
    for (let b = local.poll(); b; b = local.poll()) if (b.type === "DATA") local.recycle(b.segment);
    const cons = consumerSide(100, 0);
    const ch = cons.channel(0, prod.address, "p6", 1);
    await vi.waitFor(() => expect(ch.buffersReceived).toBe(2), { timeout: 5000 });
    expect(prod.pool.availableSegments).toBe(100 - 18);
    cons.gate.close();

    await vi.waitFor(() => expect(prod.pool.availableSegments).toBe(100), { timeout: 5000 });
    expect(partition.subpartition(1).isReleased).toBe(true);
    // Both subpartitions are done with: the partition is no longer served.
    expect(prod.partitions.get("p6")).toBeUndefined();
    expect(cons.pool.availableSegments).toBe(100);
  });

  it("a receiver that gets a buffer beyond its credit fails the channel", () => {
    const pool = new NetworkBufferPool(10, 1024);
    const gate = new InputGate(0, pool, 0);
    const failures: Error[] = [];
    const ch = new RemoteInputChannel(0, "c", { notifyChannelNonEmpty: () => {}, notifyChannelFailed: (_c, e) => failures.push(e) }, gate, 1, () => {});
    ch.onBuffer({ sequence: 0, backlog: 0, type: "DATA", data: new Uint8Array(4) });
    expect(failures).toEqual([]);
    ch.onBuffer({ sequence: 1, backlog: 0, type: "DATA", data: new Uint8Array(4) });
    expect(failures.map((e) => e.message)).toEqual(["c: the sender sent a buffer without credit"]);
  });
});

describe("byte counters", () => {
  it("numBytesOut equals what the readers decode, byte for byte, local and remote", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p5", 2, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    // Rebalance from subtask 0: records alternate between subpartition 0 and 1.
    const writer = writerOf(partition, "rebalance");
    const payload = "x".repeat(100);
    for (let i = 0; i < 2000; i++) writer.collect({ i, payload }, i % 3 === 0 ? i : undefined);
    expect(writer.finishIfFlushed()).toBe(true);

    // Subpartition 0 is read in place, as a channel of the same slot reads it.
    const local = partition.subpartition(0);
    const deserializer = new RecordDeserializer("local");
    const localOut: DecodedRecords = { records: [], timestamps: undefined };
    let localBytes = 0;
    for (let b = local.poll(); b; b = local.poll()) {
      if (b.type !== "DATA") continue;
      deserializer.decode(b.segment.subarray(0, b.length), localOut);
      localBytes += b.length;
      local.recycle(b.segment);
    }
    expect(localOut.records).toHaveLength(1000);

    // Subpartition 1 goes over gRPC.
    const cons = consumerSide(100, 8);
    cons.channel(0, prod.address, "p5", 1);
    let remoteBytes = 0;
    let remoteRecords = 0;
    await readToEnd(cons.gate, (item) => {
      if (item.buffer.type !== "DATA") return;
      remoteBytes += item.buffer.bytes;
      remoteRecords += item.buffer.records.length;
    });
    expect(remoteRecords).toBe(1000);
    expect(remoteBytes).toBeGreaterThan(1000 * payload.length);
    expect(writer.bytesOut).toBe(localBytes + remoteBytes);
    expect(cons.failures).toEqual([]);
  });
});
