/**
 * Idempotence and transactions: InitProducerId v0-v1, AddPartitionsToTxn v0-v2, AddOffsetsToTxn
 * v0-v2, EndTxn v0-v2, TxnOffsetCommit v0-v2. The logic is in transactions/transaction-coordinator.ts.
 */
import { ApiKey, defineApi } from "../protocol/api.js";
import { ErrorCode, type ErrorCodeValue, errorName } from "../protocol/errors.js";
import type { Reader } from "../protocol/wire.js";
import type { ProducerIdAndEpoch } from "../transactions/transaction-coordinator.js";

export const initProducerId = defineApi<{ transactionalId: string | null; timeoutMs: number }, ProducerIdAndEpoch>({
  key: ApiKey.InitProducerId,
  name: "InitProducerId",
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    return { transactionalId: r.nullableString(), timeoutMs: r.int32() };
  },
  handle(req, ctx) {
    return ctx.broker.transactions.initProducerId(req.transactionalId, req.timeoutMs);
  },
  encode(w, _version, res) {
    w.int32(0).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch);
  },
});

interface ProducerFields {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
}

/** The producer's identity that opens AddPartitionsToTxn, AddOffsetsToTxn and EndTxn. */
function readProducer(r: Reader): ProducerFields {
  return { transactionalId: r.string(), producerId: r.int64(), producerEpoch: r.int16() };
}

type PartitionErrors = Array<{ name: string; partitions: Array<{ partition: number; errorCode: ErrorCodeValue }> }>;

export const addPartitionsToTxn = defineApi<ProducerFields & { topics: Array<{ name: string; partitions: number[] }> }, PartitionErrors>({
  key: ApiKey.AddPartitionsToTxn,
  name: "AddPartitionsToTxn",
  minVersion: 0,
  maxVersion: 2,
  decode(r) {
    const producer = readProducer(r);
    return { ...producer, topics: r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) })) };
  },
  async handle(req, ctx) {
    const partitions = req.topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
    const codes = await ctx.broker.transactions.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, partitions, ctx.version);
    const refused = codes.find((c) => c !== ErrorCode.NONE);
    if (refused !== undefined) {
      ctx.broker.logger.debug(
        { transactionalId: req.transactionalId, producerId: req.producerId, producerEpoch: req.producerEpoch, code: errorName(refused) },
        "AddPartitionsToTxn refused",
      );
    }
    let i = 0;
    return req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((partition) => ({ partition, errorCode: codes[i++]! })) }));
  },
  encode(w, _version, topics) {
    w.int32(0);
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode));
    });
  },
});

export const addOffsetsToTxn = defineApi<ProducerFields & { groupId: string }, ErrorCodeValue>({
  key: ApiKey.AddOffsetsToTxn,
  name: "AddOffsetsToTxn",
  minVersion: 0,
  maxVersion: 2,
  decode(r) {
    const producer = readProducer(r);
    return { ...producer, groupId: r.string() };
  },
  handle(req, ctx) {
    return ctx.broker.transactions.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, ctx.version);
  },
  encode(w, _version, errorCode) {
    w.int32(0).int16(errorCode);
  },
});

export const endTxn = defineApi<ProducerFields & { commit: boolean }, ErrorCodeValue>({
  key: ApiKey.EndTxn,
  name: "EndTxn",
  minVersion: 0,
  maxVersion: 2,
  decode(r) {
    const producer = readProducer(r);
    return { ...producer, commit: r.bool() };
  },
  handle(req, ctx) {
    return ctx.broker.transactions.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.commit, ctx.version);
  },
  encode(w, _version, errorCode) {
    w.int32(0).int16(errorCode);
  },
});

interface TxnOffsetCommitRequest extends ProducerFields {
  groupId: string;
  topics: Array<{ name: string; partitions: Array<{ partition: number; offset: number; metadata: string | null }> }>;
}

export const txnOffsetCommit = defineApi<TxnOffsetCommitRequest, PartitionErrors>({
  key: ApiKey.TxnOffsetCommit,
  name: "TxnOffsetCommit",
  minVersion: 0,
  maxVersion: 2,
  decode(r, version) {
    const transactionalId = r.string();
    const groupId = r.string();
    const producerId = r.int64();
    const producerEpoch = r.int16();
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        const offset = r.int64();
        if (version >= 2) r.int32(); // leader epoch
        return { partition, offset, metadata: r.nullableString() };
      }),
    }));
    return { transactionalId, groupId, producerId, producerEpoch, topics };
  },
  async handle(req, ctx) {
    const commits = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, offset: p.offset, metadata: p.metadata })));
    const codes = await ctx.broker.transactions.txnOffsetCommit(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, commits);
    let i = 0;
    return req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: codes[i++]! })) }));
  },
  encode(w, _version, topics) {
    w.int32(0);
    w.array(topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode));
    });
  },
});
