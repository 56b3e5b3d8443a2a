import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, createLogger } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCoordinator } from "../groups/group-coordinator.js";
import { OffsetStore } from "../groups/offset-store.js";
import { LogManager } from "../log/log-manager.js";
import { ErrorCode } from "../protocol/errors.js";
import { encodeBatch, validateProducedBatch } from "../protocol/record-batch.js";
import { TransactionCoordinator } from "./transaction-coordinator.js";

const logger = createLogger("kafka-broker-test");
logger.level = "silent";

/** A coordinator over real files in a temporary directory, with a clock moved by hand. */
class Harness {
  readonly clock = new ManualClock(1_000_000);
  logs!: LogManager;
  offsets!: OffsetStore;
  groups!: GroupCoordinator;
  transactions!: TransactionCoordinator;

  constructor(readonly dir: string) {}

  async open(): Promise<this> {
    this.logs = LogManager.open(this.dir, false, logger);
    this.offsets = OffsetStore.open(this.dir, false);
    this.groups = new GroupCoordinator(this.offsets, this.clock, logger, { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 1, maxSessionTimeoutMs: 60_000 });
    this.transactions = await TransactionCoordinator.open(this.dir, false, this.logs, this.groups, this.clock, logger, {
      maxTimeoutMs: 60_000,
      timeoutCheckIntervalMs: 100,
    });
    return this;
  }

  async close(): Promise<void> {
    await this.transactions.close();
    await this.offsets.close();
    await this.logs.close();
  }

  /** Writes a transactional batch the way Produce does once the coordinator allowed it. */
  write(producerId: number, producerEpoch: number, baseSequence: number, value: string): number {
    const batch = encodeBatch({
      baseOffset: 0,
      timestamp: this.clock.now(),
      producerId,
      producerEpoch,
      baseSequence,
      transactional: true,
      control: false,
      records: [{ key: null, value: Buffer.from(value) }],
    });
    const header = validateProducedBatch(batch);
    expect(this.transactions.checkProduce("tx", producerId, producerEpoch, "t", 0)).toBe(ErrorCode.NONE);
    return this.logs.partition("t", 0)!.append(batch, header).baseOffset;
  }
}

describe("TransactionCoordinator", () => {
  let dir: string;
  let h: Harness;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "riffle-txn-"));
    h = await new Harness(dir).open();
    await h.logs.createTopic("t", 1);
  });

  afterEach(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("aborts a transaction past its timeout, fences its producer and frees the last stable offset", async () => {
    const { producerId, producerEpoch } = await h.transactions.initProducerId("tx", 1000);
    expect(await h.transactions.addPartitions("tx", producerId, producerEpoch, [{ topic: "t", partition: 0 }], 1)).toEqual([ErrorCode.NONE]);
    h.write(producerId, producerEpoch, 0, "pending");
    const log = h.logs.partition("t", 0)!;
    await new Promise((r) => setImmediate(r)); // the high watermark moves once the (disabled) sync resolves
    expect(log.lastStableOffset).toBe(0);

    h.clock.advance(1000); // exactly the timeout: still open
    expect(h.transactions.checkProduce("tx", producerId, producerEpoch, "t", 0)).toBe(ErrorCode.NONE);
    h.clock.advance(100);
    await h.transactions.idle(); // the abort under way
    expect(log.logEndOffset).toBe(2); // the record and the abort marker
    await new Promise((r) => setImmediate(r));
    expect(log.lastStableOffset).toBe(2);
    expect(log.abortedTransactions(0, 2)).toEqual([{ producerId, firstOffset: 0, lastOffset: 1 }]);
    expect(h.transactions.checkProduce("tx", producerId, producerEpoch, "t", 0)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await h.transactions.endTxn("tx", producerId, producerEpoch, true, 1)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await h.transactions.endTxn("tx", producerId, producerEpoch, true, 2)).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it("fences the previous epoch when the transactional id is initialised again, aborting its open transaction", async () => {
    const old = await h.transactions.initProducerId("tx", 10_000);
    await h.transactions.addPartitions("tx", old.producerId, old.producerEpoch, [{ topic: "t", partition: 0 }], 1);
    h.write(old.producerId, old.producerEpoch, 0, "zombie");
    const current = await h.transactions.initProducerId("tx", 10_000);
    expect(current).toEqual({ errorCode: ErrorCode.NONE, producerId: old.producerId, producerEpoch: old.producerEpoch + 1 });
    expect(h.transactions.checkProduce("tx", old.producerId, old.producerEpoch, "t", 0)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(h.logs.partition("t", 0)!.logEndOffset).toBe(2); // abort marker written

    // The new epoch starts its sequences at 0 and commits with its offsets.
    await h.transactions.addPartitions("tx", current.producerId, current.producerEpoch, [{ topic: "t", partition: 0 }], 1);
    expect(h.write(current.producerId, current.producerEpoch, 0, "kept")).toBe(2);
    expect(await h.transactions.addOffsets("tx", current.producerId, current.producerEpoch, "readers", 1)).toBe(ErrorCode.NONE);
    expect(
      await h.transactions.txnOffsetCommit("tx", current.producerId, current.producerEpoch, "readers", [
        { topic: "t", partition: 0, offset: 7, metadata: null },
      ]),
    ).toEqual([ErrorCode.NONE]);
    expect(h.groups.committed("readers", "t", 0)).toBeUndefined(); // not before the commit
    expect(await h.transactions.endTxn("tx", current.producerId, current.producerEpoch, true, 1)).toBe(ErrorCode.NONE);
    expect(h.groups.committed("readers", "t", 0)).toMatchObject({ offset: 7, metadata: null });
    expect(await h.transactions.endTxn("tx", current.producerId, current.producerEpoch, true, 1)).toBe(ErrorCode.NONE); // a retry
    expect(await h.transactions.endTxn("tx", current.producerId, current.producerEpoch, false, 1)).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it("finishes after a restart a transaction that was prepared to commit when the broker died", async () => {
    const { producerId, producerEpoch } = await h.transactions.initProducerId("tx", 10_000);
    await h.transactions.addPartitions("tx", producerId, producerEpoch, [{ topic: "t", partition: 0 }], 1);
    h.write(producerId, producerEpoch, 0, "prepared");
    await h.close();
    // What the journal holds when the broker dies between PrepareCommit and the markers.
    const meta = {
      transactionalId: "tx",
      producerId,
      producerEpoch,
      timeoutMs: 10_000,
      state: "PrepareCommit",
      partitions: [{ topic: "t", partition: 0 }],
      offsets: {},
      startedAt: 0,
    };
    writeFileSync(join(dir, "transactions.jsonl"), `${JSON.stringify({ kind: "producerIds", upTo: 1000 })}\n${JSON.stringify({ kind: "txn", meta })}\n`);
    h = await new Harness(dir).open();
    const log = h.logs.partition("t", 0)!;
    expect(log.logEndOffset).toBe(2);
    expect(log.lastStableOffset).toBe(2);
    expect(log.abortedTransactions(0, 2)).toEqual([]); // committed, not aborted
    expect((await h.transactions.initProducerId(null, 0)).producerId).toBe(1000); // ids are not handed out twice
  });
});
