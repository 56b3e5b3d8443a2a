import { join } from "node:path";
import type { Cancel, Clock, Logger } from "@riffle/shared";
import type { GroupCoordinator } from "../groups/group-coordinator.js";
import type { OffsetCommit } from "../groups/offset-store.js";
import { Journal } from "../log/journal.js";
import type { LogManager } from "../log/log-manager.js";
import { ErrorCode, type ErrorCodeValue } from "../protocol/errors.js";
import { TRANSITIONS, type TransactionMetadata, type TransactionState, hasPartition } from "./transaction.js";

type TxnRecord = { kind: "producerIds"; upTo: number } | { kind: "txn"; meta: TransactionMetadata };

const PRODUCER_ID_BLOCK = 1000;
/** Past this epoch a transactional id gets a new producer id (epochs are int16). */
const MAX_EPOCH = 32766;

export interface TransactionSettings {
  /** Kafka's transaction.max.timeout.ms: the longest timeout a producer may ask for. */
  maxTimeoutMs: number;
  /** How often open transactions are checked against their timeout (Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms). */
  timeoutCheckIntervalMs: number;
}

export interface ProducerIdAndEpoch {
  errorCode: ErrorCodeValue;
  producerId: number;
  producerEpoch: number;
}

/**
 * The transaction coordinator: producer ids and epochs (fencing), the partitions and group offsets of
 * each open transaction, the commit or abort markers written when it ends, and the abort of
 * transactions that outlive their timeout. State changes are journaled in `transactions.jsonl` before
 * they are acknowledged. Operations on one transactional id run one at a time.
 */
export class TransactionCoordinator {
  private readonly transactions = new Map<string, TransactionMetadata>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private nextProducerId: number;
  private producerIdsUpTo: number;
  private producerIdBlock: Promise<void> = Promise.resolve();
  private timeoutCheck: Cancel | undefined;
  private closed = false;

  private constructor(
    private readonly journal: Journal<TxnRecord>,
    records: TxnRecord[],
    private readonly logs: LogManager,
    private readonly groups: GroupCoordinator,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: TransactionSettings,
  ) {
    let upTo = 0;
    for (const r of records) {
      if (r.kind === "producerIds") upTo = Math.max(upTo, r.upTo);
      else this.transactions.set(r.meta.transactionalId, r.meta);
    }
    // The rest of the last block may have been handed out before the restart: start after it.
    this.nextProducerId = upTo;
    this.producerIdsUpTo = upTo;
  }

  /** Opens the journal and finishes transactions a restart interrupted between prepare and complete. */
  static async open(
    dataDir: string,
    fsync: boolean,
    logs: LogManager,
    groups: GroupCoordinator,
    clock: Clock,
    logger: Logger,
    settings: TransactionSettings,
  ): Promise<TransactionCoordinator> {
    const { journal, records } = Journal.open<TxnRecord>(join(dataDir, "transactions.jsonl"), fsync, compactTransactions);
    const coordinator = new TransactionCoordinator(journal, records, logs, groups, clock, logger, settings);
    for (const meta of coordinator.transactions.values()) {
      if (meta.state === "PrepareCommit" || meta.state === "PrepareAbort") {
        logger.info({ transactionalId: meta.transactionalId, state: meta.state }, "finishing a transaction interrupted by the restart");
        await coordinator.writeMarkers(meta, meta.state === "PrepareCommit");
      }
    }
    coordinator.scheduleTimeoutCheck();
    return coordinator;
  }

  async initProducerId(transactionalId: string | null, timeoutMs: number): Promise<ProducerIdAndEpoch> {
    if (transactionalId === null) return { errorCode: ErrorCode.NONE, producerId: await this.allocateProducerId(), producerEpoch: 0 };
    if (transactionalId === "") return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 };
    if (timeoutMs <= 0 || timeoutMs > this.settings.maxTimeoutMs)
      return { errorCode: ErrorCode.INVALID_TRANSACTION_TIMEOUT, producerId: -1, producerEpoch: -1 };
    return this.locked(transactionalId, async () => {
      let meta = this.transactions.get(transactionalId);
      if (!meta) {
        meta = {
          transactionalId,
          producerId: await this.allocateProducerId(),
          producerEpoch: 0,
          timeoutMs,
          state: "Empty",
          partitions: [],
          offsets: {},
          startedAt: 0,
        };
        this.transactions.set(transactionalId, meta);
      } else {
        // A new instance of the producer: a higher epoch fences the old one, whose open transaction is aborted.
        if (meta.producerEpoch >= MAX_EPOCH) {
          meta.producerId = await this.allocateProducerId();
          meta.producerEpoch = 0;
        } else meta.producerEpoch++;
        if (meta.state === "Ongoing") {
          this.logger.info({ transactionalId, producerEpoch: meta.producerEpoch }, "aborting the open transaction of a fenced producer");
          await this.end(meta, false);
        }
        meta.timeoutMs = timeoutMs;
        this.transition(meta, "Empty");
      }
      await this.persist(meta);
      return { errorCode: ErrorCode.NONE, producerId: meta.producerId, producerEpoch: meta.producerEpoch };
    });
  }

  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: Array<{ topic: string; partition: number }>,
    version: number,
  ): Promise<ErrorCodeValue[]> {
    return this.locked(transactionalId, async () => {
      const meta = this.transactions.get(transactionalId);
      const check = this.verify(meta, producerId, producerEpoch, version >= 2);
      if (check !== ErrorCode.NONE) return partitions.map(() => check);
      const unknown = partitions.map((p) => this.logs.partition(p.topic, p.partition) === undefined);
      if (unknown.some((u) => u)) return unknown.map((u) => (u ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED));
      this.begin(meta!);
      for (const p of partitions) if (!hasPartition(meta!, p.topic, p.partition)) meta!.partitions.push(p);
      await this.persist(meta!);
      return partitions.map(() => ErrorCode.NONE);
    });
  }

  async addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string, version: number): Promise<ErrorCodeValue> {
    return this.locked(transactionalId, async () => {
      const meta = this.transactions.get(transactionalId);
      const check = this.verify(meta, producerId, producerEpoch, version >= 2);
      if (check !== ErrorCode.NONE) return check;
      if (groupId === "") return ErrorCode.INVALID_GROUP_ID;
      this.begin(meta!);
      meta!.offsets[groupId] ??= [];
      await this.persist(meta!);
      return ErrorCode.NONE;
    });
  }

  /** Offsets to commit with the transaction (TxnOffsetCommit); visible to OffsetFetch once it commits. */
  async txnOffsetCommit(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
    commits: OffsetCommit[],
  ): Promise<ErrorCodeValue[]> {
    return this.locked(transactionalId, async () => {
      const meta = this.transactions.get(transactionalId);
      let check = this.verify(meta, producerId, producerEpoch, false);
      if (check === ErrorCode.NONE && (meta!.state !== "Ongoing" || !meta!.offsets[groupId])) check = ErrorCode.INVALID_TXN_STATE;
      if (check !== ErrorCode.NONE) return commits.map(() => check);
      const codes = commits.map((c) => (this.logs.partition(c.topic, c.partition) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
      const pending = meta!.offsets[groupId]!;
      commits.forEach((c, i) => {
        if (codes[i] !== ErrorCode.NONE) return;
        const at = pending.findIndex((p) => p.topic === c.topic && p.partition === c.partition);
        if (at >= 0) pending[at] = c;
        else pending.push(c);
      });
      await this.persist(meta!);
      return codes;
    });
  }

  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, version: number): Promise<ErrorCodeValue> {
    return this.locked(transactionalId, async () => {
      const meta = this.transactions.get(transactionalId);
      const check = this.verify(meta, producerId, producerEpoch, version >= 2);
      if (check !== ErrorCode.NONE) return check;
      if (meta!.state === "Ongoing") {
        await this.end(meta!, commit);
        return ErrorCode.NONE;
      }
      // A retried EndTxn whose first attempt completed.
      if ((meta!.state === "CompleteCommit" && commit) || (meta!.state === "CompleteAbort" && !commit)) return ErrorCode.NONE;
      return ErrorCode.INVALID_TXN_STATE;
    });
  }

  /**
   * Whether a transactional batch of this producer may be written to the partition: the producer is
   * the current one for its transactional id, and the partition was added to its open transaction.
   */
  checkProduce(transactionalId: string | null, producerId: number, producerEpoch: number, topic: string, partition: number): ErrorCodeValue {
    if (transactionalId === null) return ErrorCode.INVALID_TXN_STATE;
    const meta = this.transactions.get(transactionalId);
    const check = this.verify(meta, producerId, producerEpoch, false);
    if (check !== ErrorCode.NONE) return check;
    if (meta!.state !== "Ongoing" || !hasPartition(meta!, topic, partition)) return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /** Resolves once the operations under way (a timeout's abort included) have finished. */
  async idle(): Promise<void> {
    while (this.locks.size > 0) await Promise.all([...this.locks.values()].map((p) => p.catch(() => {})));
  }

  /** Stops the timeout checks and waits for the operations under way. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timeoutCheck?.();
    await this.idle();
    await this.journal.close();
  }

  private verify(meta: TransactionMetadata | undefined, producerId: number, producerEpoch: number, knowsProducerFenced: boolean): ErrorCodeValue {
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch !== meta.producerEpoch)
      return knowsProducerFenced && producerEpoch < meta.producerEpoch ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH;
    return ErrorCode.NONE;
  }

  /** Opens a new transaction unless one is open. */
  private begin(meta: TransactionMetadata): void {
    if (meta.state === "Ongoing") return;
    meta.partitions = [];
    meta.offsets = {};
    meta.startedAt = this.clock.now();
    this.transition(meta, "Ongoing");
  }

  /** Prepare (journaled), markers in every partition and the group offsets, then complete (journaled). */
  private async end(meta: TransactionMetadata, commit: boolean): Promise<void> {
    this.transition(meta, commit ? "PrepareCommit" : "PrepareAbort");
    await this.persist(meta);
    await this.writeMarkers(meta, commit);
  }

  private async writeMarkers(meta: TransactionMetadata, commit: boolean): Promise<void> {
    const now = this.clock.now();
    const durable: Promise<void>[] = [];
    for (const p of meta.partitions) {
      const log = this.logs.partition(p.topic, p.partition);
      if (log) durable.push(log.appendMarker(meta.producerId, meta.producerEpoch, commit, now).durable);
    }
    await Promise.all(durable);
    if (commit)
      for (const [group, offsets] of Object.entries(meta.offsets)) if (offsets.length > 0) await this.groups.commitTransactionalOffsets(group, offsets);
    this.transition(meta, commit ? "CompleteCommit" : "CompleteAbort");
    this.logger.debug({ transactionalId: meta.transactionalId, partitions: meta.partitions.length, commit }, "transaction ended");
    meta.partitions = [];
    meta.offsets = {};
    await this.persist(meta);
  }

  private transition(meta: TransactionMetadata, to: TransactionState): void {
    if (!TRANSITIONS[meta.state].includes(to)) throw new Error(`transaction ${meta.transactionalId}: no transition from ${meta.state} to ${to}`);
    meta.state = to;
  }

  private scheduleTimeoutCheck(): void {
    if (this.closed) return;
    this.timeoutCheck = this.clock.schedule(() => {
      this.abortTimedOut();
      this.scheduleTimeoutCheck();
    }, this.settings.timeoutCheckIntervalMs);
  }

  /** Aborts every transaction open longer than its timeout, fencing its producer with a new epoch. */
  private abortTimedOut(): void {
    const now = this.clock.now();
    for (const meta of this.transactions.values()) {
      if (meta.state !== "Ongoing" || now - meta.startedAt <= meta.timeoutMs) continue;
      const { transactionalId, producerEpoch } = meta;
      void this.locked(transactionalId, async () => {
        if (meta.state !== "Ongoing" || meta.producerEpoch !== producerEpoch) return; // it ended meanwhile
        meta.producerEpoch++;
        this.logger.info(
          { transactionalId, producerId: meta.producerId, producerEpoch: meta.producerEpoch, timeoutMs: meta.timeoutMs, partitions: meta.partitions.length },
          "transaction timed out: aborted, producer fenced",
        );
        await this.end(meta, false);
      }).catch((err: unknown) => this.logger.error({ err, transactionalId }, "aborting a timed-out transaction failed"));
    }
  }

  /** Producer ids come in journaled blocks; an id is handed out only once its block is durable. */
  private async allocateProducerId(): Promise<number> {
    if (this.nextProducerId >= this.producerIdsUpTo) {
      this.producerIdsUpTo = this.nextProducerId + PRODUCER_ID_BLOCK;
      this.producerIdBlock = this.journal.append({ kind: "producerIds", upTo: this.producerIdsUpTo });
    }
    const id = this.nextProducerId++;
    await this.producerIdBlock;
    return id;
  }

  private persist(meta: TransactionMetadata): Promise<void> {
    return this.journal.append({ kind: "txn", meta });
  }

  private locked<T>(transactionalId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(transactionalId) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.catch(() => {});
    this.locks.set(transactionalId, tail);
    void tail.then(() => {
      if (this.locks.get(transactionalId) === tail) this.locks.delete(transactionalId);
    });
    return result;
  }
}

function compactTransactions(records: TxnRecord[]): TxnRecord[] {
  let upTo = 0;
  const latest = new Map<string, TxnRecord>();
  for (const r of records) {
    if (r.kind === "producerIds") upTo = Math.max(upTo, r.upTo);
    else latest.set(r.meta.transactionalId, r);
  }
  return [{ kind: "producerIds", upTo }, ...latest.values()];
}
