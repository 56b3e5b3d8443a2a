/**
 * Record batches (message format v2, "magic 2"), the unit the broker stores and serves. The broker
 * keeps each batch exactly as the producer sent it and only rewrites its base offset, which the CRC
 * does not cover: fetches return the stored bytes unchanged, as Kafka does.
 *
 * ```
 *  0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
 * 17 crc uint32 (CRC-32C of everything from attributes to the end)
 * 21 attributes int16 (bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control)
 * 23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64 | 43 producerId int64
 * 51 producerEpoch int16 | 53 baseSequence int32 | 57 recordCount int32 | 61 records...
 * ```
 */
import { gunzipSync } from "node:zlib";
import crc32C from "kafkajs/src/protocol/recordBatch/crc32C/index.js";
import { ErrorCode, KafkaError } from "./errors.js";
import { Reader, Writer } from "./wire.js";

export const BATCH_OVERHEAD = 61;
/** Bytes before `batchLength` counts: baseOffset and batchLength themselves. */
export const LOG_OVERHEAD = 12;
const CRC_START = 21;

export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
const COMPRESSION_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"];
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;

export interface BatchHeader {
  /** Where the batch starts in the buffer it was parsed from. */
  position: number;
  /** Whole batch, baseOffset to the last record. */
  size: number;
  baseOffset: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  compression: number;
  transactional: boolean;
  control: boolean;
}

/** Whether the producer is idempotent (a producer id is set). */
export function hasProducerId(h: BatchHeader): boolean {
  return h.producerId >= 0;
}

/** The sequence number of the batch's last record (sequences wrap at 2^31). */
export function lastSequence(h: BatchHeader): number {
  return h.baseSequence < 0 ? -1 : (h.baseSequence + h.lastOffsetDelta) % 2 ** 31;
}

/**
 * Reads the header of the batch at `position`, checking its size, magic and CRC. `incomplete` is
 * returned when fewer bytes than the batch claims are left (a torn write at the end of a log).
 */
export function readBatch(buf: Buffer, position: number): BatchHeader | "incomplete" {
  if (buf.length - position < LOG_OVERHEAD) return "incomplete";
  const batchLength = buf.readInt32BE(position + 8);
  if (batchLength < BATCH_OVERHEAD - LOG_OVERHEAD)
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record batch length ${batchLength} is below the minimum of ${BATCH_OVERHEAD - LOG_OVERHEAD}`);
  const size = LOG_OVERHEAD + batchLength;
  if (buf.length - position < size) return "incomplete";
  const magic = buf.readInt8(position + 16);
  if (magic !== 2)
    throw new KafkaError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `record batch has magic ${magic}; this broker stores message format v2 (magic 2) only`);
  const crc = buf.readUInt32BE(position + 17);
  const actual = crc32C(buf.subarray(position + CRC_START, position + size));
  if (crc !== actual) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record batch CRC is ${crc.toString(16)}, its contents give ${actual.toString(16)}`);
  const attributes = buf.readInt16BE(position + 21);
  const header: BatchHeader = {
    position,
    size,
    baseOffset: Number(buf.readBigInt64BE(position)),
    lastOffsetDelta: buf.readInt32BE(position + 23),
    baseTimestamp: Number(buf.readBigInt64BE(position + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(position + 35)),
    producerId: Number(buf.readBigInt64BE(position + 43)),
    producerEpoch: buf.readInt16BE(position + 51),
    baseSequence: buf.readInt32BE(position + 53),
    recordCount: buf.readInt32BE(position + 57),
    compression: attributes & 0x07,
    transactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
    control: (attributes & CONTROL_FLAG) !== 0,
  };
  if (header.recordCount < 0 || header.lastOffsetDelta < 0 || header.recordCount !== header.lastOffsetDelta + 1)
    throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record batch holds ${header.recordCount} records but its last offset delta is ${header.lastOffsetDelta}`);
  return header;
}

/**
 * Validates what a producer sent for one partition: exactly one v2 batch (as Kafka requires of v2
 * produce requests), intact, with a codec this broker can read, and no control flag.
 */
export function validateProducedBatch(records: Buffer): BatchHeader {
  const header = readBatch(records, 0);
  if (header === "incomplete") throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `record batch is truncated (${records.length} bytes)`);
  if (header.size !== records.length) throw new KafkaError(ErrorCode.INVALID_RECORD, "a produce request must hold exactly one record batch per partition");
  if (header.control) throw new KafkaError(ErrorCode.INVALID_RECORD, "clients may not write control batches");
  if (header.compression !== Compression.NONE && header.compression !== Compression.GZIP)
    throw new KafkaError(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `compression ${COMPRESSION_NAMES[header.compression] ?? header.compression} is not supported by this test broker (none and gzip are)`,
    );
  if (header.transactional && !hasProducerId(header)) throw new KafkaError(ErrorCode.INVALID_RECORD, "a transactional batch needs a producer id");
  return header;
}

/** Sets the base offset (and the leader epoch, 0 on this single node) of a batch in place. */
export function assignOffset(batch: Buffer, position: number, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), position);
  batch.writeInt32BE(0, position + 12);
}

export interface BatchSpec {
  baseOffset: number;
  timestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  transactional: boolean;
  control: boolean;
  records: Array<{ key: Buffer | null; value: Buffer | null }>;
}

/** Encodes an uncompressed v2 batch (the broker writes transaction markers with it; tests write data). */
export function encodeBatch(spec: BatchSpec): Buffer {
  const records = new Writer();
  spec.records.forEach((r, i) => {
    const body = new Writer().int8(0).varlong(0).varint(i).varintBytes(r.key).varintBytes(r.value).varint(0).toBuffer();
    records.varint(body.length).raw(body);
  });
  const afterCrc = new Writer()
    .int16((spec.transactional ? TRANSACTIONAL_FLAG : 0) | (spec.control ? CONTROL_FLAG : 0))
    .int32(spec.records.length - 1)
    .int64(spec.timestamp)
    .int64(spec.timestamp)
    .int64(spec.producerId)
    .int16(spec.producerEpoch)
    .int32(spec.baseSequence)
    .int32(spec.records.length)
    .raw(records.toBuffer())
    .toBuffer();
  return new Writer()
    .int64(spec.baseOffset)
    .int32(afterCrc.length + 9)
    .int32(0)
    .int8(2)
    .uint32(crc32C(afterCrc))
    .raw(afterCrc)
    .toBuffer();
}

/**
 * A transaction marker: a control batch with one record whose key is (version 0, type 0 = abort,
 * 1 = commit) and whose value is (version 0, coordinator epoch).
 */
export function controlBatch(options: { baseOffset: number; producerId: number; producerEpoch: number; commit: boolean; timestamp: number }): Buffer {
  return encodeBatch({
    ...options,
    baseSequence: -1,
    transactional: true,
    control: true,
    records: [
      {
        key: new Writer()
          .int16(0)
          .int16(options.commit ? 1 : 0)
          .toBuffer(),
        value: new Writer().int16(0).int32(0).toBuffer(),
      },
    ],
  });
}

/** Whether a control batch commits (true) or aborts (false) its transaction. */
export function controlBatchCommits(batch: Buffer, h: BatchHeader): boolean {
  const records = new Reader(batch, h.position + BATCH_OVERHEAD, h.position + h.size);
  records.varint(); // record length
  records.int8();
  records.varlong();
  records.varint();
  const key = records.varintBytes();
  if (!key || key.length < 4) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, "control record without a key");
  return key.readInt16BE(2) === 1;
}

/** Offset and timestamp of every record of a batch (to find an offset by timestamp). */
export function recordTimestamps(batch: Buffer, h: BatchHeader): Array<{ offset: number; timestamp: number }> {
  let body = batch.subarray(h.position + BATCH_OVERHEAD, h.position + h.size);
  if (h.compression === Compression.GZIP) body = gunzipSync(body);
  else if (h.compression !== Compression.NONE) throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, "cannot read records of this codec");
  const r = new Reader(body);
  const out: Array<{ offset: number; timestamp: number }> = [];
  for (let i = 0; i < h.recordCount; i++) {
    const length = r.varint();
    const end = r.offset + length;
    r.int8();
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    out.push({ offset: h.baseOffset + offsetDelta, timestamp: h.baseTimestamp + timestampDelta });
    r.skip(end - r.offset);
  }
  return out;
}
