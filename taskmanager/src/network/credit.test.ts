import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeBatch, encodeBatch } from "@riffle/shared";
import { NetworkBufferPool } from "./buffer-pool.js";
import { InputGate } from "./input-gate.js";
import { RemoteInputChannel } from "./remote-channel.js";
import { RecordWriter } from "./record-writer.js";
import { ResultPartition } from "./result-partition.js";
import { ExchangeHarness, partitionOf } from "../testing/exchange-harness.js";

/**
 * The credit protocol over a real gRPC connection: a producer side (partition manager + exchange
 * server) and a consumer side (gate + remote channels) with separate buffer pools, as two
 * TaskManagers would have.
 */
const harness = new ExchangeHarness();
afterEach(() => harness.cleanUp());
const producerSide = (buffers: number) => harness.producerSide(buffers);
const consumerSide = (buffers: number, floating: number) => harness.consumerSide(buffers, floating);

/** Records of ~20 KiB: as a writer would size them, one makes a buffer, so each travels alone. */
const PAD = "p".repeat(20 * 1024);

function produce(partition: ResultPartition, subpartition: number, n: number, from = 0, pad = PAD) {
  for (let i = 0; i < n; i++) {
    expect(partition.pool.tryRequest()).toBe(true);
    partition.subpartition(subpartition).add({ type: "DATA", records: [{ i: from + i, pad }], timestamps: undefined });
  }
}

const ids = (data: Buffer) => (decodeBatch(data) as Array<{ i: number }>).map((r) => r.i);

describe("credit-based flow control", () => {
  it("sends nothing without credit, and backlog brings floating buffers", async () => {
    const prod = await producerSide(100);
    const partition = partitionOf("p1", 1, prod.pool, 1);
    prod.partitions.register(partition, "job");
    produce(partition, 0, 20);

    const cons = consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p1", 0);

    // Initial credit 2 (exclusive); the first buffer reports backlog, so the channel borrows the
    // gate's 8 floating buffers: 10 buffers arrive and then the sender runs out of credit.
    await vi.waitFor(() => expect(ch.buffersReceived).toBe(10), { timeout: 5000 });
    expect(ch.creditsAnnounced).toBe(8);
    expect(partition.subpartition(0).queuedBuffers).toBe(10);
    expect(cons.pool.availableBuffers).toBe(100 - 2 - 8);

    // Reading one buffer frees one, announced as one credit: exactly one more arrives.
    const first = cons.gate.pollNext();
    expect(first && first.buffer.type === "DATA" && ids(first.buffer.data)).toEqual([0]);
    await vi.waitFor(() => expect(ch.buffersReceived).toBe(11), { timeout: 5000 });
    expect(partition.subpartition(0).queuedBuffers).toBe(9);
    expect(ch.outstandingCredit).toBe(0);

    // Reading everything delivers every buffer in order, and the sender never exceeded its credit.
    const seen = [0];
    partition.finish();
    await vi.waitFor(
      () => {
        for (let item = cons.gate.pollNext(); item; item = cons.gate.pollNext()) {
          if (item.buffer.type === "DATA") seen.push(...ids(item.buffer.data));
        }
        expect(cons.gate.isFinished()).toBe(true);
      },
      { timeout: 5000 },
    );
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(cons.failures).toEqual([]);
    expect(prod.pool.availableBuffers).toBe(100);
  });

  it("a channel without credit does not stall another channel on the same connection", async () => {
    const prod = await producerSide(200);
    const partition = partitionOf("p2", 2, prod.pool, 1);
    prod.partitions.register(partition, "job");
    produce(partition, 0, 50);
    produce(partition, 1, 50, 1000);
    partition.finish();

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
          if (b.type === "DATA") got.push(...ids(b.data));
          else flowingEnded = true;
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

  it("one credit carries several small buffers, up to one buffer's worth of records", async () => {
    const prod = await producerSide(100);
    const partition = partitionOf("p3", 1, prod.pool, 256);
    prod.partitions.register(partition, "job");
    produce(partition, 0, 30, 0, "");
    partition.finish();
    const cons = consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p3", 0);
    const seen: number[] = [];
    await vi.waitFor(
      () => {
        for (let item = cons.gate.pollNext(); item; item = cons.gate.pollNext()) if (item.buffer.type === "DATA") seen.push(...ids(item.buffer.data));
        expect(cons.gate.isFinished()).toBe(true);
      },
      { timeout: 5000 },
    );
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // 30 tiny buffers and the end of partition arrived in 2 messages: one credit each.
    expect(ch.buffersReceived).toBe(2);
    expect(prod.pool.availableBuffers).toBe(100);
  });

  it("a receiver that gets a buffer beyond its credit fails the channel", () => {
    const pool = new NetworkBufferPool(10, 1024);
    const gate = new InputGate(0, pool, 0);
    const failures: Error[] = [];
    const ch = new RemoteInputChannel(0, "c", { notifyChannelNonEmpty: () => {}, notifyChannelFailed: (_c, e) => failures.push(e) }, gate, 1, () => {});
    ch.onBuffer({ sequence: 0, backlog: 0, type: "DATA", data: encodeBatch([1]) });
    expect(failures).toEqual([]);
    ch.onBuffer({ sequence: 1, backlog: 0, type: "DATA", data: encodeBatch([2]) });
    expect(failures.map((e) => e.message)).toEqual(["c: the sender sent a buffer without credit"]);
  });
});

describe("numBytesOut", () => {
  it("counts exactly the bytes encoded for a remote reader, nothing for a local one", async () => {
    const prod = await producerSide(100);
    const partition = new ResultPartition("p5", 2, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    // Rebalance from subtask 0: records alternate between subpartition 0 and 1.
    const writer = new RecordWriter(partition, {
      partitioner: "rebalance",
      maxParallelism: 128,
      bufferSize: 32 * 1024,
      maxBuffersPerSubpartition: 100,
      subtaskIndex: 0,
    });
    const payload = "x".repeat(100);
    for (let i = 0; i < 2000; i++) writer.collect({ i, payload });
    expect(writer.finishIfFlushed()).toBe(true);

    // Subpartition 0 is read as a local channel reads it: records by reference, nothing encoded.
    // The writer did encode a sample buffer to size its batches; that is not network traffic.
    const local = partition.subpartition(0);
    let localRecords = 0;
    for (let b = local.poll(); b; b = local.poll()) {
      if (b.type === "DATA") localRecords += b.records!.length;
    }
    expect(localRecords).toBe(1000);
    expect(writer.bytesOut).toBe(0);

    // Subpartition 1 goes over gRPC: numBytesOut is what arrived, byte for byte.
    const cons = consumerSide(100, 8);
    cons.channel(0, prod.address, "p5", 1);
    let received = 0;
    let remoteRecords = 0;
    await vi.waitFor(
      () => {
        for (let item = cons.gate.pollNext(); item; item = cons.gate.pollNext()) {
          if (item.buffer.type !== "DATA") continue;
          received += item.buffer.data!.length;
          remoteRecords += decodeBatch(item.buffer.data!).length;
        }
        expect(cons.gate.isFinished()).toBe(true);
      },
      { timeout: 5000 },
    );
    expect(remoteRecords).toBe(1000);
    expect(received).toBeGreaterThan(1000 * payload.length);
    expect(writer.bytesOut).toBe(received);
    expect(cons.failures).toEqual([]);
  });
});
