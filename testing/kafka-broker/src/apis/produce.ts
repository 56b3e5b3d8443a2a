/**
 * Produce v3-v8 (record batches v2 only). Each partition's batch is validated (CRC, codec), checked
 * against the producer's sequence (idempotence) and, when transactional, against the transaction
 * coordinator (fencing, partition added to the transaction), then appended. With acks=all (-1) the
 * response waits until every batch is fsynced; acks=1 answers once written; acks=0 not at all.
 */
import { ApiKey, defineApi } from "../protocol/api.js";
import { ErrorCode, KafkaError, errorName } from "../protocol/errors.js";
import { validateProducedBatch } from "../protocol/record-batch.js";

interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  topics: Array<{ name: string; partitions: Array<{ index: number; records: Buffer | null }> }>;
}

interface PartitionResult {
  index: number;
  errorCode: number;
  baseOffset: number;
  errorMessage: string | null;
}

type ProduceResponse = Array<{ name: string; partitions: PartitionResult[] }>;

export const produce = defineApi<ProduceRequest, ProduceResponse>({
  key: ApiKey.Produce,
  name: "Produce",
  minVersion: 3,
  maxVersion: 8,
  // Appends happen before the wait for fsync: later requests of the connection share that fsync.
  pipelined: true,
  decode(r) {
    const transactionalId = r.nullableString();
    const acks = r.int16();
    r.int32(); // timeout: appends never wait on other replicas here
    const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() })) }));
    return { transactionalId, acks, topics };
  },
  async handle(req, ctx) {
    const { logs, transactions, logger } = ctx.broker;
    const durable: Array<{ result: PartitionResult; done: Promise<void> }> = [];
    const fail = (index: number, err: KafkaError): PartitionResult => ({ index, errorCode: err.code, baseOffset: -1, errorMessage: err.message });
    const response: ProduceResponse = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p): PartitionResult => {
        try {
          if (req.acks !== -1 && req.acks !== 0 && req.acks !== 1)
            throw new KafkaError(ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, not ${req.acks}`);
          const log = logs.partition(t.name, p.index);
          if (!log) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${t.name}-${p.index} does not exist`);
          if (!p.records) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, "no records");
          const batch = validateProducedBatch(p.records);
          if (batch.transactional) {
            const code = transactions.checkProduce(req.transactionalId, batch.producerId, batch.producerEpoch, t.name, p.index);
            if (code !== ErrorCode.NONE)
              throw new KafkaError(
                code,
                `transactional write to ${t.name}-${p.index} refused (${errorName(code)}) for producer ${batch.producerId} epoch ${batch.producerEpoch}`,
              );
          }
          // Written at once (the base offset is set in place in the request's bytes).
          const appended = log.append(p.records, batch);
          const result: PartitionResult = { index: p.index, errorCode: ErrorCode.NONE, baseOffset: appended.baseOffset, errorMessage: null };
          durable.push({ result, done: appended.durable });
          return result;
        } catch (err) {
          if (!(err instanceof KafkaError)) throw err;
          logger.debug({ topic: t.name, partition: p.index, code: errorName(err.code), reason: err.message }, "produce refused");
          return fail(p.index, err);
        }
      }),
    }));
    if (req.acks === 0) return null;
    if (req.acks === -1) {
      await Promise.all(
        durable.map(({ result, done }) =>
          done.catch((err: unknown) => {
            logger.error({ err }, "fsync failed: produce not acknowledged");
            Object.assign(result, {
              errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
              baseOffset: -1,
              errorMessage: `the log could not be synced to disk: ${String(err)}`,
            });
          }),
        ),
      );
    } else for (const d of durable) d.done.catch((err: unknown) => logger.error({ err }, "fsync failed after an acks=1 produce"));
    return response;
  },
  encode(w, version, response) {
    w.array(response, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.index).int16(p.errorCode).int64(p.baseOffset);
        w.int64(-1); // log append time: batches keep their create time
        if (version >= 5) w.int64(0); // log start offset
        if (version >= 8) {
          w.array([], () => {}); // per-record errors
          w.nullableString(p.errorMessage);
        }
      });
    });
    w.int32(0);
  },
});
