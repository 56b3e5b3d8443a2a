import { describe, expect, it } from "vitest";
import { MAX_WATERMARK, MIN_WATERMARK } from "@riffle/sdk/internal";
import { NetworkBufferPool } from "./buffer-pool.js";
import type { NetworkBuffer } from "./buffer.js";
import { RecordWriter } from "./record-writer.js";
import { ResultPartition, type ResultSubpartition } from "./result-partition.js";

function setUp(buffers: number, subpartitions = 2) {
  const pool = new NetworkBufferPool(buffers, 32 * 1024);
  const partition = new ResultPartition("p", subpartitions, pool, () => {});
  const writer = new RecordWriter(partition, {
    partitioner: "rebalance",
    maxParallelism: 128,
    bufferSize: 32 * 1024,
    maxBuffersPerSubpartition: 100,
    subtaskIndex: 0,
  });
  return { pool, partition, writer, subs: partition.subpartitions };
}

/** Takes everything queued on a subpartition, as its reader would. */
function drain(sub: ResultSubpartition): NetworkBuffer[] {
  const out: NetworkBuffer[] = [];
  for (let b = sub.poll(); b; b = sub.poll()) out.push(b);
  return out;
}

describe("RecordWriter and event time", () => {
  it("keeps timestamps per subpartition batch, only from the first record that has one", () => {
    const { writer, subs } = setUp(10);
    writer.collect("x0"); // rebalance: subpartition 0, 1, 0, 1, ...
    writer.collect("x1");
    writer.collect("y0", 7);
    writer.collect("y1");
    writer.collect("z0");
    const [s0, s1] = subs;
    expect(s0!.pendingTimestamps).toEqual([Number.NaN, 7, Number.NaN]);
    expect(s1!.pendingTimestamps).toBeUndefined();
    writer.flush();
    expect(drain(s0!)).toEqual([{ type: "DATA", records: ["x0", "y0", "z0"], timestamps: [Number.NaN, 7, Number.NaN] }]);
    expect(drain(s1!)).toEqual([{ type: "DATA", records: ["x1", "y1"], timestamps: undefined }]);
    // The next batch starts without timestamps again.
    writer.collect("w0");
    expect(s0!.pendingTimestamps).toBeUndefined();
  });

  it("flushes partly filled batches before a watermark, with overdraft buffers when the pool is empty", () => {
    const { pool, writer, subs } = setUp(0);
    writer.collect("a", 1);
    writer.collect("b", 2);
    writer.emitWatermark(5);
    expect(pool.availableBuffers).toBe(-2);
    expect(drain(subs[0]!)).toEqual([
      { type: "DATA", records: ["a"], timestamps: [1] },
      { type: "WATERMARK", timestamp: 5 },
    ]);
    expect(drain(subs[1]!)).toEqual([
      { type: "DATA", records: ["b"], timestamps: [2] },
      { type: "WATERMARK", timestamp: 5 },
    ]);
    expect(pool.availableBuffers).toBe(0);
    expect(writer.currentOutputWatermark).toBe(5);
  });

  it("sends a watermark only when it advances, and a status only when it changes", () => {
    const { writer, subs } = setUp(10, 1);
    expect(writer.currentOutputWatermark).toBe(MIN_WATERMARK);
    writer.emitWatermark(10);
    writer.emitWatermark(10);
    writer.emitWatermark(3);
    writer.emitWatermarkStatus(false); // already active
    writer.emitWatermarkStatus(true);
    writer.emitWatermarkStatus(true);
    writer.emitWatermark(20); // idle: dropped, so it goes out once active again
    writer.emitWatermarkStatus(false);
    writer.emitWatermark(20);
    writer.emitWatermarkStatus(true);
    writer.emitWatermark(MAX_WATERMARK); // the end of event time gets through idleness
    expect(drain(subs[0]!)).toEqual([
      { type: "WATERMARK", timestamp: 10 },
      { type: "WATERMARK_STATUS", idle: true },
      { type: "WATERMARK_STATUS", idle: false },
      { type: "WATERMARK", timestamp: 20 },
      { type: "WATERMARK_STATUS", idle: true },
      { type: "WATERMARK_STATUS", idle: false },
      { type: "WATERMARK", timestamp: MAX_WATERMARK },
    ]);
    expect(writer.currentOutputWatermark).toBe(MAX_WATERMARK);
  });

  it("drops side-output records: the chain wires side outputs", () => {
    const { writer, subs } = setUp(10, 1);
    writer.collectSide("late", "x", 1);
    writer.flush();
    expect(drain(subs[0]!)).toEqual([]);
    expect(writer.recordsOut).toBe(0);
  });
});
