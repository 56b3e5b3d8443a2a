import { describe, expect, it } from "vitest";
import { RiffleError } from "@riffle/shared";
import { MAX_WATERMARK, MIN_WATERMARK } from "@riffle/sdk/internal";
import { NetworkBufferPool } from "./buffer-pool.js";
import { timestampOf } from "./buffer.js";
import { ResultPartition, type ResultSubpartition } from "./result-partition.js";
import { type DecodedRecords, RecordDeserializer } from "./serialization.js";
import { writerOf } from "../testing/exchange-harness.js";

const SEGMENT = 1024;

function setUp(segments: number, subpartitions = 2, maxBuffersPerSubpartition = 100) {
  const pool = new NetworkBufferPool(segments, SEGMENT);
  const partition = new ResultPartition("p", subpartitions, pool, () => {});
  const writer = writerOf(partition, "rebalance", maxBuffersPerSubpartition);
  return { pool, partition, writer, subs: partition.subpartitions };
}

/**
 * Takes everything queued on a subpartition as a reader in the same slot would (decoding each segment
 * and returning it to the pool), and describes it: `record@timestamp`, or the event.
 */
function drain(sub: ResultSubpartition, deserializer = new RecordDeserializer("test")): string[] {
  const out: string[] = [];
  for (let b = sub.poll(); b; b = sub.poll()) {
    if (b.type === "DATA") {
      const decoded: DecodedRecords = { records: [], timestamps: undefined };
      deserializer.decode(b.segment.subarray(0, b.length), decoded);
      sub.recycle(b.segment);
      decoded.records.forEach((r, i) => {
        const ts = decoded.timestamps?.[i];
        const t = ts === undefined ? undefined : timestampOf(ts);
        out.push(`${typeof r === "string" ? r : JSON.stringify(r)}@${t === undefined ? "-" : String(t)}`);
      });
    } else if (b.type === "WATERMARK") out.push(`WM ${b.timestamp}`);
    else if (b.type === "WATERMARK_STATUS") out.push(b.idle ? "IDLE" : "ACTIVE");
    else if (b.type === "CHECKPOINT_BARRIER") out.push(`BARRIER ${b.checkpointId}`);
    else out.push("END");
  }
  return out;
}

describe("RecordWriter", () => {
  it("writes each record with its own timestamp, if any, into its subpartition's segments", () => {
    const { writer, subs } = setUp(10);
    writer.collect("x0"); // rebalance: subpartition 0, 1, 0, 1, ...
    writer.collect("x1");
    writer.collect("y0", 7);
    writer.collect("y1");
    writer.collect("z0");
    writer.flush();
    expect(drain(subs[0]!)).toEqual(["x0@-", "y0@7", "z0@-"]);
    expect(drain(subs[1]!)).toEqual(["x1@-", "y1@-"]);
  });

  it("finishes partly filled segments before a watermark, which needs no segment of its own", () => {
    const { pool, writer, subs } = setUp(2);
    writer.collect("a", 1);
    writer.collect("b", 2);
    expect(pool.availableSegments).toBe(0);
    writer.emitWatermark(5);
    expect(drain(subs[0]!)).toEqual(["a@1", "WM 5"]);
    expect(drain(subs[1]!)).toEqual(["b@2", "WM 5"]);
    expect(pool.availableSegments).toBe(2);
    expect(writer.currentOutputWatermark).toBe(5);
  });

  it("spans records over segments, and spills what finds no segment until segments return", () => {
    const { pool, writer, subs } = setUp(3, 1);
    const big = "x".repeat(2500); // about 2.5 segments
    writer.collect({ n: 1, big }, 11);
    // Three segments were enough for the first record (queued: 2 full ones; a third being filled).
    expect(pool.availableSegments).toBe(0);
    expect(writer.isAvailable()).toBe(true);
    writer.collect({ n: 2, big });
    // The pool ran dry within the second record: the rest of it waits, and so does what follows.
    expect(writer.isAvailable()).toBe(false);
    writer.collect({ n: 3, big: "" }, 33);
    writer.emitWatermark(40);
    writer.broadcastBarrier({ type: "CHECKPOINT_BARRIER", checkpointId: 1, timestamp: 0, targetDir: "/tmp/x", isSavepoint: false });
    // Never more segments than the pool has, whatever was written.
    expect(subs[0]!.heldSegments).toBe(3);
    expect(writer.usage()).toBeLessThanOrEqual(1);
    // A reader in the same slot decodes what is there and gives the segments back, in several rounds.
    const deserializer = new RecordDeserializer("test");
    const seen: string[] = [];
    for (let round = 0; round < 10 && !seen.includes("BARRIER 1"); round++) {
      seen.push(...drain(subs[0]!, deserializer));
      writer.isAvailable();
    }
    expect(seen.map((s) => s.replace(big, "…"))).toEqual(['{"n":1,"big":"…"}@11', '{"n":2,"big":"…"}@-', '{"n":3,"big":""}@33', "WM 40", "BARRIER 1"]);
    expect(writer.isAvailable()).toBe(true);
    expect(writer.finishIfFlushed()).toBe(true);
    expect(drain(subs[0]!, deserializer)).toEqual(["END"]);
    expect(pool.availableSegments).toBe(3);
  });

  it("is unavailable while a subpartition queue is at its limit", () => {
    const { writer, subs } = setUp(100, 1, 2);
    writer.collect("a".repeat(1500)); // fills one segment and a half
    expect(writer.isAvailable()).toBe(true);
    writer.collect("b".repeat(1500));
    expect(writer.isAvailable()).toBe(false);
    subs[0]!.recycle((subs[0]!.poll() as { segment: Buffer }).segment);
    expect(writer.isAvailable()).toBe(true);
  });

  it("takes no segment for a released subpartition: what would go there is dropped, the others go on", () => {
    const { pool, writer, subs } = setUp(10);
    writer.collect("a"); // subpartition 0
    writer.collect("b"); // subpartition 1
    expect(pool.availableSegments).toBe(8);
    // Subpartition 1's consumer failed: its segment being filled returns, and it takes none again,
    // since nothing would release it a second time.
    subs[1]!.release(new RiffleError("TASK_FAILED", "its consumer failed"));
    expect(pool.availableSegments).toBe(9);
    writer.collect("c");
    writer.collect("d");
    expect(pool.availableSegments).toBe(9);
    writer.emitWatermark(5);
    expect(writer.isAvailable()).toBe(true);
    expect(writer.finishIfFlushed()).toBe(true);
    expect(drain(subs[0]!)).toEqual(["a@-", "c@-", "WM 5", "END"]);
    expect(drain(subs[1]!)).toEqual([]);
    expect(pool.availableSegments).toBe(10);
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
    expect(drain(subs[0]!)).toEqual(["WM 10", "IDLE", "ACTIVE", "WM 20", "IDLE", "ACTIVE", `WM ${MAX_WATERMARK}`]);
    expect(writer.currentOutputWatermark).toBe(MAX_WATERMARK);
  });

  it("drops side-output records: the chain wires side outputs", () => {
    const { writer, subs } = setUp(10, 1);
    writer.collectSide("late", "x", 1);
    writer.flush();
    expect(drain(subs[0]!)).toEqual([]);
    expect(writer.recordsOut).toBe(0);
  });

  it("refuses a record that cannot be sent, naming the operator and the reason", () => {
    const { writer } = setUp(10, 1);
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const failure = (record: unknown) => {
      try {
        writer.collect(record);
      } catch (e) {
        return `${(e as { code: string }).code}: ${(e as Error).message}`;
      }
      return "sent";
    };
    expect(failure(circular)).toBe(
      'RECORD_NOT_SERIALIZABLE: a record emitted by operator "test" cannot be sent to the next task: it contains a circular reference or is nested too deeply',
    );
    expect(failure({ f: () => 1 })).toBe(
      'RECORD_NOT_SERIALIZABLE: a record emitted by operator "test" cannot be sent to the next task: it contains a function',
    );
    expect(failure({ s: Symbol("x") })).toMatch(
      /^RECORD_NOT_SERIALIZABLE: a record emitted by operator "test" cannot be sent to the next task: Unknown type: symbol/,
    );
    expect(failure({ big: 2n ** 70n, when: new Date(0) })).toBe("sent");
    // A record of a shape seen before goes the serializer's fast path: a getter failing there reads the same.
    expect(failure({ key: "k", n: 1 })).toBe("sent");
    const failing = {
      key: "k",
      get n(): number {
        throw new Error("n is not ready");
      },
    };
    expect(failure(failing)).toBe('RECORD_NOT_SERIALIZABLE: a record emitted by operator "test" cannot be sent to the next task: n is not ready');
  });

  it("shares one serializer over a broadcast's subpartitions, each stream decoding on its own", () => {
    const pool = new NetworkBufferPool(10, SEGMENT);
    const partition = new ResultPartition("b", 3, pool, () => {});
    const writer = writerOf(partition, "broadcast");
    writer.collect({ k: "a", v: 1 });
    writer.collect({ k: "b", v: 2 }, 5);
    writer.flush();
    for (const sub of partition.subpartitions) expect(drain(sub)).toEqual(['{"k":"a","v":1}@-', '{"k":"b","v":2}@5']);
  });
});
