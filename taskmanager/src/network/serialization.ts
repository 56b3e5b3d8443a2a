import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, Unpackr } from "msgpackr";
import { RiffleError } from "@riffle/shared";

/**
 * Records as they travel between tasks: frames written into network segments, one stream per
 * subpartition (see exchange.proto, DATA).
 *
 *   ┌────────────── header: u32 LE ──────────────┐
 *   │ kind (2 bits) │ payload length (30 bits)   │ [timestamp: f64 LE, kind 1] │ payload … │
 *
 *   kind 0  a record (msgpack, with record structures)
 *   kind 1  a record with its event timestamp
 *   kind 2  record structures the following records use for the first time (JSON list of key lists)
 *   kind 3  a group: records packed one after the other, each as it would be the payload of kind 0;
 *           when bit 29 of the header is set (a group's length fits in 29 bits), each record is
 *           preceded by its timestamp as a msgpack float64 (0xcb, f64 BE). NaN: the record has none.
 *
 * A header (and its timestamp) never spans segments: the writer starts a new segment when fewer than
 * MAX_HEADER bytes are left. A payload spans as many segments as it needs (Flink's spanning
 * serializer); the receiving channel reassembles it.
 *
 * Groups are how small records travel: the writer still serializes each record into its segment as it
 * is emitted (so memory stays bounded in bytes and availability is checked per record), but a run of
 * records in one segment shares one header, whose length is written when the group closes, and the
 * reader decodes the whole run with one msgpackr call (one call per record costs about twice as much
 * for small records). A group never spans segments: a record that does not fit in the rest of the
 * segment closes it, and goes into a group in the next segment when it is small (at most
 * MAX_GROUPED_FRACTION of a segment, so at most that much of a segment is left unused), else into a
 * frame of its own that spans segments from here.
 *
 * Record structures are msgpackr's shared structures: a record of a known shape is written as a
 * structure id and its values, without key names. Each stream has its own: the serializer of a
 * subpartition announces a new structure in a kind-2 frame just before the first record that uses it,
 * and the deserializer of the channel reading that subpartition appends it to its own list, so every
 * channel decodes its stream alone and in order. msgpackr shares at most 32 structures per stream;
 * records of further shapes carry their definition inline (larger, still correct).
 */
export const FRAME_RECORD = 0;
export const FRAME_TIMESTAMPED_RECORD = 1;
export const FRAME_STRUCTURES = 2;
export const FRAME_GROUP = 3;
export const HEADER_BYTES = 4;
export const TIMESTAMP_BYTES = 8;
/** The most a header with its timestamp takes: the writer keeps it in one segment. */
export const MAX_HEADER = HEADER_BYTES + TIMESTAMP_BYTES;
/** Largest payload a header can describe (1 GiB - 1). */
export const MAX_PAYLOAD = 2 ** 30 - 1;
const KIND_SHIFT = 30;
const LENGTH_MASK = MAX_PAYLOAD;
/** In a group's header: its records carry timestamps. */
const GROUP_TIMESTAMPED = 1 << 29;
const GROUP_LENGTH_MASK = GROUP_TIMESTAMPED - 1;
/** A timestamp in a group: msgpack float64, 0xcb and the value big-endian. */
export const GROUP_TIMESTAMP_BYTES = 9;
const MSGPACK_FLOAT64 = 0xcb;
/** Records up to this fraction of a segment go into groups (see above). */
export const MAX_GROUPED_FRACTION = 1 / 16;

type Structures = string[][] & { sharedLength?: number };

/**
 * A record shape: its keys in order (as for...in lists them), and the id of its shared structure;
 * `skip`: records of this shape left to hand to msgpackr at once, after one the fast path could not
 * write (a nested value, a long string), so a stream of such records does not try it every time.
 */
interface Shape {
  readonly keys: string[];
  readonly id: number;
  skip: number;
}
/** Records of a shape that go straight to msgpackr after one the fast path could not write. */
const FLAT_RETRY_AFTER = 64;
/** The fast path writes into a scratch buffer of this size; a record that may not fit goes to msgpackr. */
const FLAT_SCRATCH_BYTES = 1024;
/** The most a value takes in the fast path: a string of FLAT_MAX_STRING ASCII characters and its header. */
const FLAT_MAX_STRING = 31;
const FLAT_VALUE_BYTES = FLAT_MAX_STRING + 1;

class NotSerializable extends Error {}

/**
 * msgpackr writes each record where the last one began and hands back its own buffer: no allocation
 * per record. (That buffer is shared by every Packr of the thread: the writer copies a payload out
 * before anything else is packed, and structure lists are JSON, not msgpack.)
 */
const IN_PLACE = REUSE_BUFFER_MODE | RESET_BUFFER_MODE;

/** Copies `from[start..end)` into `to` at `at`: a loop for the small payloads most records have, a native copy for large ones. */
export function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): void {
  const n = end - start;
  if (n > 64) {
    to.set(from.subarray(start, end), at);
    return;
  }
  for (let k = 0; k < n; k++) to[at + k] = from[start + k]!;
}

/** Writes the header of a frame at `pos`; returns the position after it (and its timestamp). */
export function writeHeader(segment: Buffer, pos: number, kind: number, length: number, timestamp: number | undefined): number {
  segment.writeUInt32LE(((kind << KIND_SHIFT) | length) >>> 0, pos);
  if (timestamp === undefined) return pos + HEADER_BYTES;
  segment.writeDoubleLE(timestamp, pos + HEADER_BYTES);
  return pos + MAX_HEADER;
}

/** Writes the header of the group that starts at `pos` and ends at `end` (its records written). */
export function writeGroupHeader(segment: Buffer, pos: number, end: number, timestamped: boolean): void {
  const length = end - pos - HEADER_BYTES;
  segment.writeUInt32LE(((FRAME_GROUP << KIND_SHIFT) | (timestamped ? GROUP_TIMESTAMPED : 0) | length) >>> 0, pos);
}

/** Writes a record's timestamp in a timestamped group at `pos`; returns the position after it. */
export function writeGroupTimestamp(segment: Buffer, pos: number, timestamp: number | undefined): number {
  segment[pos] = MSGPACK_FLOAT64;
  segment.writeDoubleBE(timestamp ?? Number.NaN, pos + 1);
  return pos + GROUP_TIMESTAMP_BYTES;
}

/**
 * Serializes the records of one stream: a subpartition, or every subpartition of a broadcast output
 * (they all carry the same records, so they can share one serializer and its structures).
 */
export class RecordSerializer {
  private readonly structures: Structures = [];
  private readonly packr: Packr;
  private announced = 0;
  /** The shape of the last record msgpackr wrote as a shared structure: what the fast path writes (see flat). */
  private shape: Shape | undefined;
  /** Shapes by shared structure index, learnt once. */
  private readonly shapes: Array<Shape | undefined> = [];
  private readonly scratch = Buffer.allocUnsafe(FLAT_SCRATCH_BYTES);
  /** The last record's payload: `payload[payloadStart..payloadEnd)`, valid until the next `serialize`. */
  payload: Uint8Array = new Uint8Array(0);
  payloadStart = 0;
  payloadEnd = 0;

  constructor() {
    this.packr = new Packr({
      useRecords: true,
      moreTypes: true,
      structures: this.structures,
      // msgpackr would silently drop a function; a record that loses fields on the way is worse than
      // a clear failure.
      writeFunction: () => {
        throw new NotSerializable("it contains a function");
      },
    });
  }

  /**
   * Encodes a record into `payload` (`payloadStart..payloadEnd`), valid until the next call. A record
   * that cannot be encoded (a circular reference, a function, a symbol) throws RECORD_NOT_SERIALIZABLE
   * naming `producer`.
   */
  serialize(record: unknown, producer: string): void {
    const shape = this.shape;
    if (shape !== undefined) {
      if (shape.skip === 0) {
        let written: boolean;
        try {
          written = this.flat(record, shape);
        } catch (err) {
          // A getter that throws, as msgpackr would report it.
          throw notSerializable(err, producer);
        }
        if (written) return;
      } else shape.skip--;
    }
    let target: Uint8Array & { start?: number; end?: number };
    try {
      target = this.packr.pack(record, IN_PLACE);
    } catch (err) {
      throw notSerializable(err, producer);
    }
    const start = target.start ?? 0;
    const end = target.end ?? target.length;
    if (end - start > MAX_PAYLOAD) {
      throw new RiffleError(
        "RECORD_NOT_SERIALIZABLE",
        `a record emitted by ${producer} is ${end - start} bytes encoded; records larger than ${MAX_PAYLOAD} bytes cannot be sent between tasks`,
      );
    }
    this.payload = target;
    this.payloadStart = start;
    this.payloadEnd = end;
    this.learnShape(record, target[start]!);
  }

  /**
   * The fast path for the usual record, a plain object of a shape seen before whose values are small
   * integers, numbers, short ASCII strings, booleans or null: written here as msgpackr writes it (the
   * shared structure's id, then the values), without msgpackr's per-call set-up, which costs several
   * times the encoding of such a record. Anything else returns false, and msgpackr writes the record
   * (a record of the shape whose values do not qualify also sets the shape's `skip`).
   */
  private flat(record: unknown, shape: Shape): boolean {
    if (typeof record !== "object" || record === null || Object.getPrototypeOf(record) !== Object.prototype) return false;
    const keys = shape.keys;
    const out = this.scratch;
    let pos = 1;
    let i = 0;
    for (const key in record) {
      if (key !== keys[i++] || pos > FLAT_SCRATCH_BYTES - FLAT_VALUE_BYTES) return false;
      const v = (record as Record<string, unknown>)[key];
      if (typeof v === "number") {
        // As msgpackr: an integer in 32 bits is written as one. Only 0-0x1f as a bare byte: 0x40-0x7f
        // name record structures (and 0x20-0x3f msgpackr's structs, in a mode not used here).
        if (v >>> 0 === v) {
          if (v < 0x20) out[pos++] = v;
          else if (v < 0x100) {
            out[pos++] = 0xcc;
            out[pos++] = v;
          } else if (v < 0x10000) {
            out[pos++] = 0xcd;
            out.writeUInt16BE(v, pos);
            pos += 2;
          } else {
            out[pos++] = 0xce;
            out.writeUInt32BE(v, pos);
            pos += 4;
          }
        } else if (v >> 0 === v) {
          if (v >= -0x20) out[pos++] = 0x100 + v;
          else {
            out[pos++] = 0xd2;
            out.writeInt32BE(v, pos);
            pos += 4;
          }
        } else {
          out[pos++] = MSGPACK_FLOAT64;
          out.writeDoubleBE(v, pos);
          pos += 8;
        }
      } else if (typeof v === "string") {
        const n = v.length;
        if (n > FLAT_MAX_STRING) return this.unflat(shape);
        out[pos++] = 0xa0 | n;
        for (let c = 0; c < n; c++) {
          const code = v.charCodeAt(c);
          if (code >= 0x80) return this.unflat(shape);
          out[pos++] = code;
        }
      } else if (typeof v === "boolean") out[pos++] = v ? 0xc3 : 0xc2;
      else if (v === null) out[pos++] = 0xc0;
      else return this.unflat(shape);
    }
    if (i !== keys.length) return false;
    out[0] = shape.id;
    this.payload = out;
    this.payloadStart = 0;
    this.payloadEnd = pos;
    return true;
  }

  private unflat(shape: Shape): false {
    shape.skip = FLAT_RETRY_AFTER;
    return false;
  }

  /**
   * After msgpackr wrote a plain object as one of the shared structures (ids 0x40-0x5f, which stay
   * what they are for the serializer's life, unlike msgpackr's own ones above), its shape is what the
   * fast path writes next: records of a stream mostly share one.
   */
  private learnShape(record: unknown, first: number): void {
    if (first < 0x40 || first >= 0x60) return;
    const index = first - 0x40;
    if (index >= (this.structures.sharedLength ?? 0) || typeof record !== "object" || record === null) return;
    if (Object.getPrototypeOf(record) !== Object.prototype) return;
    if (this.shape?.id === first) return;
    this.shape = this.shapes[index] ??= { keys: [...this.structures[index]!], id: first, skip: 0 };
  }

  /** The payload of a structures frame for the structures the last `serialize` introduced, if any. */
  newStructures(): Uint8Array | undefined {
    const shared = this.structures.sharedLength ?? 0;
    if (shared <= this.announced) return undefined;
    const fresh = this.structures.slice(this.announced, shared).map((keys) => [...keys]);
    this.announced = shared;
    return Buffer.from(JSON.stringify(fresh));
  }
}

function notSerializable(err: unknown, producer: string): RiffleError {
  const why =
    err instanceof NotSerializable
      ? err.message
      : err instanceof RangeError && /call stack/i.test(err.message)
        ? "it contains a circular reference or is nested too deeply"
        : err instanceof Error
          ? err.message
          : String(err);
  return new RiffleError("RECORD_NOT_SERIALIZABLE", `a record emitted by ${producer} cannot be sent to the next task: ${why}`, { cause: err });
}

/** Records decoded from a buffer, with their timestamps (NaN: none) when any record has one. */
export interface DecodedRecords {
  records: unknown[];
  timestamps: number[] | undefined;
}

/**
 * Reads the frames of one channel's stream. A payload that continues in the next buffer is copied
 * aside until it is complete; everything else is decoded straight from the buffer.
 */
export class RecordDeserializer {
  private structures: string[][] = [];
  private readonly unpackr: Unpackr;
  /** Where in its buffer the next record is read (one object, reused). */
  private readonly range = { start: 0, end: 0 };
  /** A payload spanning buffers: its bytes so far. */
  private partial: { kind: number; timestamp: number; bytes: Buffer; filled: number } | undefined;

  constructor(private readonly channel: string) {
    this.unpackr = new Unpackr({
      useRecords: true,
      moreTypes: true,
      // Binary values (a Buffer in a record) are copied out: by default msgpackr returns views into the
      // bytes it reads, and those bytes are a segment that goes back to the pool (or a buffer that goes
      // back to its sender) once decoded, to be overwritten while the record is still held.
      copyBuffers: true,
      // Consulted when a record names a structure the reader has not loaded yet: copies, since msgpackr
      // annotates what it gets.
      getStructures: () => this.structures.map((keys) => [...keys]),
    });
  }

  /** Decodes every complete frame of `data` into `out`, keeping an incomplete last payload for later. */
  decode(data: Uint8Array, out: DecodedRecords): void {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let pos = 0;
    const end = buf.length;
    const partial = this.partial;
    if (partial) {
      const n = Math.min(partial.bytes.length - partial.filled, end);
      buf.copy(partial.bytes, partial.filled, 0, n);
      partial.filled += n;
      pos = n;
      if (partial.filled < partial.bytes.length) return;
      this.partial = undefined;
      this.frame(partial.kind, partial.timestamp, partial.bytes, 0, partial.bytes.length, out);
    }
    while (pos < end) {
      if (end - pos < HEADER_BYTES) throw this.corrupt(`${end - pos} bytes left where a frame header was expected`);
      const header = buf.readUInt32LE(pos);
      const kind = header >>> KIND_SHIFT;
      const length = header & LENGTH_MASK;
      pos += HEADER_BYTES;
      if (kind === FRAME_GROUP) {
        const groupLength = header & GROUP_LENGTH_MASK;
        // A group never spans segments, and a buffer holds whole segments.
        if (end - pos < groupLength) throw this.corrupt(`a record group of ${groupLength} bytes is cut off after ${end - pos}`);
        if (groupLength > 0) this.group(buf.subarray(pos, pos + groupLength), (header & GROUP_TIMESTAMPED) !== 0, out);
        pos += groupLength;
        continue;
      }
      let timestamp = Number.NaN;
      if (kind === FRAME_TIMESTAMPED_RECORD) {
        if (end - pos < TIMESTAMP_BYTES) throw this.corrupt("a timestamp is cut off");
        timestamp = buf.readDoubleLE(pos);
        pos += TIMESTAMP_BYTES;
      }
      if (end - pos >= length) {
        this.frame(kind, timestamp, buf, pos, pos + length, out);
        pos += length;
      } else {
        const bytes = Buffer.allocUnsafe(length);
        const n = buf.copy(bytes, 0, pos, end);
        this.partial = { kind, timestamp, bytes, filled: n };
        return;
      }
    }
  }

  /** Decodes the records of a group, `bytes` (one msgpackr call for all of them). */
  private group(bytes: Buffer, timestamped: boolean, out: DecodedRecords): void {
    let values: unknown[];
    try {
      values = this.unpackr.unpackMultiple(bytes) as unknown[];
    } catch (err) {
      throw this.corrupt(`a record group does not decode: ${(err as Error).message}`);
    }
    const records = out.records;
    if (!timestamped) {
      if (records.length === 0 && out.timestamps === undefined) {
        out.records = values;
        return;
      }
      for (let i = 0; i < values.length; i++) records.push(values[i]);
      if (out.timestamps !== undefined) for (let i = 0; i < values.length; i++) out.timestamps.push(Number.NaN);
      return;
    }
    if (values.length % 2 !== 0) throw this.corrupt("a timestamped record group has a timestamp without its record");
    if (out.timestamps === undefined) {
      out.timestamps = [];
      for (let i = 0; i < records.length; i++) out.timestamps.push(Number.NaN);
    }
    const timestamps = out.timestamps;
    for (let i = 0; i < values.length; i += 2) {
      timestamps.push(values[i] as number);
      records.push(values[i + 1]);
    }
  }

  /** Decodes the frame payload `buf[start..end)`. */
  private frame(kind: number, timestamp: number, buf: Buffer, start: number, end: number, out: DecodedRecords): void {
    if (kind === FRAME_STRUCTURES) {
      const fresh = JSON.parse(buf.toString("utf8", start, end)) as string[][];
      if (!Array.isArray(fresh)) throw this.corrupt("a structures frame is not a list");
      for (const keys of fresh) this.structures.push(keys);
      return;
    }
    const range = this.range;
    range.start = start;
    range.end = end;
    const record = this.unpackr.unpack(buf, range);
    if (kind === FRAME_TIMESTAMPED_RECORD) {
      if (out.timestamps === undefined) {
        out.timestamps = [];
        for (let i = 0; i < out.records.length; i++) out.timestamps.push(Number.NaN);
      }
      out.timestamps.push(timestamp);
    } else if (out.timestamps !== undefined) {
      out.timestamps.push(Number.NaN);
    }
    out.records.push(record);
  }

  private corrupt(what: string): RiffleError {
    return new RiffleError("INTERNAL", `undecodable data from ${this.channel}: ${what}`);
  }
}
