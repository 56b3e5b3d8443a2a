import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_WATERMARK } from "@riffle/sdk/internal";
import { type InputItem, timestampOf } from "./buffer.js";
import type { InputGate } from "./input-gate.js";
import type { RemoteInputChannel } from "./remote-channel.js";
import { ResultPartition } from "./result-partition.js";
import { ExchangeHarness, writerOf } from "../testing/exchange-harness.js";

/**
 * Event time on the wire: record timestamps, watermarks and watermark status between two network
 * stacks over a real gRPC connection, written by a real RecordWriter.
 */
const harness = new ExchangeHarness();
afterEach(() => harness.cleanUp());

const writerFor = (partition: ResultPartition) => writerOf(partition);

/** What a task sees of a channel: records with their timestamps, and events, in order. */
function describeItem(buffer: InputItem): string[] {
  switch (buffer.type) {
    case "DATA": {
      const records = buffer.records;
      const ts = buffer.timestamps;
      if (ts) expect(ts.length).toBe(records.length);
      return records.map((r, i) => `${String(r)}@${ts ? String(timestampOf(ts[i]!)) : "-"}`);
    }
    case "WATERMARK":
      return [`WM ${buffer.timestamp}`];
    case "WATERMARK_STATUS":
      return [buffer.idle ? "IDLE" : "ACTIVE"];
    case "CHECKPOINT_BARRIER":
      return [`BARRIER ${buffer.checkpointId}`];
    case "END_OF_PARTITION":
      return ["END"];
  }
}

/** Records the type of every message the channel receives (set up before any can arrive). */
function wireTypes(channel: RemoteInputChannel): string[] {
  const types: string[] = [];
  const onBuffer = channel.onBuffer.bind(channel);
  channel.onBuffer = (b) => {
    types.push(b.type);
    onBuffer(b);
  };
  return types;
}

/** Reads the gate until it is finished, as the task would (end of partition is absorbed by the gate). */
async function readAll(gate: InputGate): Promise<{ items: string[]; buffers: InputItem[] }> {
  const items: string[] = [];
  const buffers: InputItem[] = [];
  await vi.waitFor(
    () => {
      for (let item = gate.pollNext(); item; item = gate.pollNext()) {
        buffers.push(item.buffer);
        items.push(...describeItem(item.buffer));
      }
      expect(gate.isFinished()).toBe(true);
    },
    { timeout: 10_000 },
  );
  return { items, buffers };
}

describe("event time over a remote channel", () => {
  it("delivers timestamps, watermarks and status in order with the data, small buffers merged", async () => {
    const prod = await harness.producerSide(100);
    const partition = new ResultPartition("p-et", 1, prod.pool, () => {});
    const writer = writerFor(partition);
    prod.partitions.register(partition, "job");

    // Three small buffers (as the buffer timeout flushes them): mixed, none, all timestamped.
    writer.collect("a");
    writer.collect("b", 10);
    writer.flush();
    writer.collect("c");
    writer.flush();
    writer.collect("d", 30);
    writer.collect("e", -5);
    writer.flush();
    // The watermark finishes the partly filled segment before it goes out.
    writer.collect("f", 40);
    writer.emitWatermark(25);
    writer.emitWatermark(20); // behind the last one: not sent
    writer.emitWatermarkStatus(true);
    writer.emitWatermark(50); // idle: dropped
    writer.emitWatermarkStatus(false);
    writer.emitWatermark(50);
    writer.collect("g");
    writer.flush();
    writer.emitWatermark(MAX_WATERMARK);
    expect(writer.finishIfFlushed()).toBe(true);

    // The consumer connects after all of it was queued, so the small buffers behind one another go on one credit.
    const cons = harness.consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p-et", 0);
    const types = wireTypes(ch);
    const { items, buffers } = await readAll(cons.gate);
    expect(items).toEqual(["a@undefined", "b@10", "c@undefined", "d@30", "e@-5", "f@40", "WM 25", "IDLE", "ACTIVE", "WM 50", "g@-", `WM ${MAX_WATERMARK}`]);
    // The four buffers before the first watermark (a..f) went as one message, timestamps aligned
    // across them; then 4 events, g, MAX and the end of partition.
    expect(types).toEqual(["DATA", "WATERMARK", "WATERMARK_STATUS", "WATERMARK_STATUS", "WATERMARK", "DATA", "WATERMARK", "END_OF_PARTITION"]);
    expect(ch.buffersReceived).toBe(8);
    const merged = buffers[0]!;
    expect(merged.type === "DATA" && merged.timestamps?.length).toBe(6);
    expect(cons.failures).toEqual([]);
    expect(prod.pool.availableSegments).toBe(100);
    expect(writer.currentOutputWatermark).toBe(MAX_WATERMARK);
  });

  it("sends records without timestamps without any: none on the wire or after", async () => {
    const prod = await harness.producerSide(100);
    const partition = new ResultPartition("p-plain", 1, prod.pool, () => {});
    const writer = writerFor(partition);
    prod.partitions.register(partition, "job");
    const cons = harness.consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p-plain", 0);
    const types = wireTypes(ch);
    for (let i = 0; i < 5; i++) {
      writer.collect(i);
      writer.flush();
    }
    expect(writer.finishIfFlushed()).toBe(true);
    const { items, buffers } = await readAll(cons.gate);
    expect(items).toEqual(["0@-", "1@-", "2@-", "3@-", "4@-"]);
    expect(new Set(types)).toEqual(new Set(["DATA", "END_OF_PARTITION"]));
    for (const b of buffers) expect(b.type === "DATA" && b.timestamps).toBeUndefined();
    expect(ch.bytesReceived).toBeGreaterThan(0);
    expect(cons.failures).toEqual([]);
  });
});
