import { appendFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { encodeBatch, readBatch, validateProducedBatch } from "../protocol/record-batch.js";
import { PartitionLog } from "./partition-log.js";

const logger = createLogger("kafka-broker-test");
logger.level = "silent";

function batch(producerId: number, baseSequence: number, values: string[], transactional = false): Buffer {
  return encodeBatch({
    baseOffset: 0,
    timestamp: 1000,
    producerId,
    producerEpoch: producerId >= 0 ? 0 : -1,
    baseSequence,
    transactional,
    control: false,
    records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
  });
}

function append(log: PartitionLog, bytes: Buffer) {
  return log.append(bytes, validateProducedBatch(bytes));
}

describe("PartitionLog", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-log-"));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("drops a batch torn by a crash when it reopens, and keeps the ones before it", async () => {
    const log = PartitionLog.open(dir, "t", 0, true, logger);
    await append(log, batch(-1, -1, ["a", "b"])).durable;
    await append(log, batch(-1, -1, ["c"])).durable;
    await log.close();
    const file = join(dir, "t-0", "00000000000000000000.log");
    const intact = statSync(file).size;
    appendFileSync(file, batch(-1, -1, ["torn"]).subarray(0, 30));

    const reopened = PartitionLog.open(dir, "t", 0, true, logger);
    expect(reopened.logEndOffset).toBe(3);
    expect(reopened.highWatermark).toBe(3);
    expect(statSync(file).size).toBe(intact);
    const read = reopened.read(0, 1 << 20, "read_uncommitted")!;
    expect(read.nextOffset).toBe(3);
    const second = readBatch(read.records, (readBatch(read.records, 0) as { size: number }).size);
    expect(second).toMatchObject({ baseOffset: 2, recordCount: 1 });
    expect(append(reopened, batch(-1, -1, ["d"])).baseOffset).toBe(3);
    await reopened.close();
  });

  it("stores a retried idempotent batch once, refuses gaps, and remembers sequences across a restart", async () => {
    const log = PartitionLog.open(dir, "t", 0, false, logger);
    expect(append(log, batch(7, 0, ["a", "b"])).baseOffset).toBe(0);
    expect(append(log, batch(7, 2, ["c"])).baseOffset).toBe(2);
    expect(append(log, batch(7, 0, ["a", "b"])).baseOffset).toBe(0); // the retry
    expect(log.logEndOffset).toBe(3);
    expect(() => append(log, batch(7, 5, ["gap"]))).toThrow(expect.objectContaining({ code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER }));
    await log.close();
    const reopened = PartitionLog.open(dir, "t", 0, false, logger);
    expect(append(reopened, batch(7, 2, ["c"])).baseOffset).toBe(2);
    expect(append(reopened, batch(7, 3, ["d"])).baseOffset).toBe(3);
    await reopened.close();
  });

  it("stops read_committed reads at the first open transaction and lists aborted ones", async () => {
    const log = PartitionLog.open(dir, "t", 0, false, logger);
    await append(log, batch(-1, -1, ["plain"])).durable;
    await append(log, batch(9, 0, ["in-txn"], true)).durable;
    await append(log, batch(-1, -1, ["after"])).durable;
    expect(log.lastStableOffset).toBe(1);
    expect(log.read(0, 1 << 20, "read_committed")!.nextOffset).toBe(1);
    expect(log.read(0, 1 << 20, "read_uncommitted")!.nextOffset).toBe(3);
    await log.appendMarker(9, 0, false, 2000).durable;
    expect(log.lastStableOffset).toBe(4);
    expect(log.read(0, 1 << 20, "read_committed")!.nextOffset).toBe(4);
    expect(log.abortedTransactions(0, 4)).toEqual([{ producerId: 9, firstOffset: 1, lastOffset: 3 }]);
    expect(() => log.read(5, 100, "read_committed")).toThrow(KafkaError);
    await log.close();
  });
});
