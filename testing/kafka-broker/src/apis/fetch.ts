/**
 * Reading: Fetch v4-v11 and ListOffsets v0-v5.
 *
 * A fetch returns stored batches as they are, up to the high watermark (read_uncommitted) or the last
 * stable offset (read_committed, with the aborted transactions of the returned range so the client
 * can drop their records). With fewer than `minBytes` available it waits, up to `maxWaitMs`, for the
 * high watermark of a requested partition to move. Fetch sessions (KIP-227) are not kept: every
 * response has session id 0, which clients take as "full fetches only".
 */
import { ApiKey, type RequestContext, defineApi } from "../protocol/api.js";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import type { AbortedTransaction, IsolationLevel } from "../log/partition-log.js";

interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolation: IsolationLevel;
  topics: Array<{ name: string; partitions: Array<{ partition: number; fetchOffset: number; maxBytes: number }> }>;
}

interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  aborted: AbortedTransaction[] | null;
  records: Buffer | null;
}

type FetchResponse = Array<{ name: string; partitions: FetchedPartition[] }>;

function collect(req: FetchRequest, ctx: RequestContext): { response: FetchResponse; bytes: number } {
  let bytes = 0;
  const response = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p): FetchedPartition => {
      const log = ctx.broker.logs.partition(t.name, p.partition);
      if (!log)
        return {
          partition: p.partition,
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          highWatermark: -1,
          lastStableOffset: -1,
          aborted: null,
          records: null,
        };
      const result: FetchedPartition = {
        partition: p.partition,
        errorCode: ErrorCode.NONE,
        highWatermark: log.highWatermark,
        lastStableOffset: log.lastStableOffset,
        aborted: null,
        records: null,
      };
      const budget = Math.min(p.maxBytes, req.maxBytes - bytes);
      // The first batch found is returned even when larger than the limits (KIP-74); later ones must fit.
      if (budget <= 0 && bytes > 0) return result;
      try {
        const read = log.read(p.fetchOffset, Math.max(budget, 1), req.isolation);
        if (read) {
          result.records = read.records;
          bytes += read.records.length;
          if (req.isolation === "read_committed") result.aborted = log.abortedTransactions(p.fetchOffset, read.nextOffset);
        }
      } catch (err) {
        if (!(err instanceof KafkaError)) throw err;
        result.errorCode = err.code;
      }
      return result;
    }),
  }));
  return { response, bytes };
}

export const fetch = defineApi<FetchRequest, FetchResponse>({
  key: ApiKey.Fetch,
  name: "Fetch",
  minVersion: 4,
  maxVersion: 11,
  decode(r, version) {
    r.int32(); // replica id: consumers only
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = r.int32();
    const isolation: IsolationLevel = r.int8() === 1 ? "read_committed" : "read_uncommitted";
    if (version >= 7) {
      r.int32(); // session id
      r.int32(); // session epoch
    }
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        if (version >= 9) r.int32(); // current leader epoch
        const fetchOffset = r.int64();
        if (version >= 5) r.int64(); // log start offset (followers only)
        return { partition, fetchOffset, maxBytes: r.int32() };
      }),
    }));
    if (version >= 7) r.array((r) => [r.string(), r.array((r) => r.int32())]); // forgotten topics: no sessions here
    if (version >= 11) r.string(); // rack id
    return { maxWaitMs, minBytes, maxBytes, isolation, topics };
  },
  async handle(req, ctx) {
    let fetched = collect(req, ctx);
    if (fetched.bytes >= req.minBytes || req.maxWaitMs <= 0) return fetched.response;
    // Long poll: wait for a requested partition's high watermark to move, the deadline, or the connection to close.
    const logs = req.topics.flatMap((t) => t.partitions.map((p) => ctx.broker.logs.partition(t.name, p.partition))).filter((l) => l !== undefined);
    const deadline = ctx.broker.clock.now() + req.maxWaitMs;
    while (ctx.broker.clock.now() < deadline && !ctx.signal.aborted) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          cancelTimer();
          for (const u of unsubscribe) u();
          ctx.signal.removeEventListener("abort", wake);
          resolve();
        };
        const cancelTimer = ctx.broker.clock.schedule(wake, deadline - ctx.broker.clock.now());
        const unsubscribe = logs.map((l) => l.onAdvance(wake));
        ctx.signal.addEventListener("abort", wake);
      });
      fetched = collect(req, ctx);
      if (fetched.bytes >= req.minBytes) break;
    }
    return fetched.response;
  },
  encode(w, version, response) {
    w.int32(0);
    if (version >= 7) w.int16(ErrorCode.NONE).int32(0);
    w.array(response, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
        if (version >= 5) w.int64(0);
        w.nullableArray(p.aborted, (w, a) => w.int64(a.producerId).int64(a.firstOffset));
        if (version >= 11) w.int32(-1);
        // No data is an empty record set, never null: librdkafka refuses a null one.
        w.bytes(p.records ?? NO_RECORDS);
      });
    });
  },
});

const NO_RECORDS = Buffer.alloc(0);
const LATEST = -1;
const EARLIEST = -2;

interface ListOffsetsRequest {
  isolation: IsolationLevel;
  topics: Array<{ name: string; partitions: Array<{ partition: number; timestamp: number }> }>;
}

type ListOffsetsResponse = Array<{ name: string; partitions: Array<{ partition: number; errorCode: number; timestamp: number; offset: number }> }>;

export const listOffsets = defineApi<ListOffsetsRequest, ListOffsetsResponse>({
  key: ApiKey.ListOffsets,
  name: "ListOffsets",
  minVersion: 0,
  maxVersion: 5,
  decode(r, version) {
    r.int32(); // replica id
    const isolation: IsolationLevel = version >= 2 && r.int8() === 1 ? "read_committed" : "read_uncommitted";
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        if (version >= 4) r.int32(); // current leader epoch
        const timestamp = r.int64();
        if (version === 0) r.int32(); // max number of offsets: one is returned
        return { partition, timestamp };
      }),
    }));
    return { isolation, topics };
  },
  handle(req, ctx) {
    return req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const log = ctx.broker.logs.partition(t.name, p.partition);
        if (!log) return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 };
        if (p.timestamp === LATEST)
          return {
            partition: p.partition,
            errorCode: ErrorCode.NONE,
            timestamp: -1,
            offset: req.isolation === "read_committed" ? log.lastStableOffset : log.highWatermark,
          };
        if (p.timestamp === EARLIEST) return { partition: p.partition, errorCode: ErrorCode.NONE, timestamp: -1, offset: log.logStartOffset };
        const found = log.offsetForTimestamp(p.timestamp);
        return { partition: p.partition, errorCode: ErrorCode.NONE, timestamp: found?.timestamp ?? -1, offset: found?.offset ?? -1 };
      }),
    }));
  },
  encode(w, version, response) {
    if (version >= 2) w.int32(0);
    w.array(response, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode);
        if (version === 0) w.array(p.offset >= 0 ? [p.offset] : [], (w, o) => w.int64(o));
        else w.int64(p.timestamp).int64(p.offset);
        if (version >= 4) w.int32(0);
      });
    });
  },
});
