import { murmur3Key, murmur3Utf8, operatorIndexForKeyGroup, type Partitioner } from "@riffle/shared";
import { MAX_WATERMARK, MIN_WATERMARK, type Output } from "@riffle/sdk/internal";
import type { ResultPartition, ResultSubpartition, SpillEntry } from "./result-partition.js";
import type { CheckpointBarrier, NetworkEvent } from "./buffer.js";
import {
  FRAME_RECORD,
  FRAME_STRUCTURES,
  FRAME_TIMESTAMPED_RECORD,
  GROUP_TIMESTAMP_BYTES,
  HEADER_BYTES,
  MAX_GROUPED_FRACTION,
  MAX_HEADER,
  RecordSerializer,
  copyBytes,
  writeGroupHeader,
  writeGroupTimestamp,
  writeHeader,
} from "./serialization.js";

export interface RecordWriterOptions {
  partitioner: Partitioner;
  /** Key selector for hash partitioning. */
  keySelector?: ((record: unknown) => unknown) | undefined;
  maxParallelism: number;
  maxBuffersPerSubpartition: number;
  /** Seeds round-robin and shuffle so that runs repeat. */
  subtaskIndex: number;
  /** The operator whose records this writer sends, for error messages. */
  producer: string;
}

/**
 * Turns records into bytes in network segments: each record goes to the subpartition(s) its
 * partitioner picks and is serialized at once into that subpartition's current segment; a full
 * segment is queued for the reader and a new one taken from the slot's pool. Small records join the
 * segment's open record group (one header for a run of records, see serialization.ts); a record longer
 * than what is left spans segments.
 *
 * The task checks `isAvailable()` before each record. The writer becomes unavailable when a
 * subpartition queue reaches its limit or the pool had no segment to give: the rest of the record
 * (and whatever the same input still emits, and events behind it, in order) waits in the
 * subpartition's spill, which `isAvailable()` writes out first once segments come back. So in-flight
 * data stays within the pool plus, per output, what one input record produced after it ran dry.
 *
 * Event time: a record with a timestamp is a timestamped frame. Watermarks and watermark status are
 * in-band events on every subpartition behind the records written so far (partly filled segments are
 * finished first; spilled frames go first).
 */
export class RecordWriter implements Output {
  private readonly subs: ResultSubpartition[];
  private readonly select: (record: unknown) => number;
  private readonly broadcast: boolean;
  /** Broadcast outputs send the same records everywhere: one serializer, shared structures. */
  private readonly broadcastSerializer: RecordSerializer | undefined;
  private readonly segmentSize: number;
  /** Records (with their timestamps) up to this many bytes go into groups. */
  private readonly maxGrouped: number;
  /** Set when a segment could not be had or a queue filled up; until then the writer needs no check. */
  private blocked = false;
  recordsOut = 0;
  /** Bytes of frames written into segments (numBytesOut); equals what readers decode. */
  bytesOut = 0;
  buffersOut = 0;
  /** The last watermark sent on every subpartition (MIN_WATERMARK before any). */
  currentOutputWatermark = MIN_WATERMARK;
  /** The watermark status last announced downstream: idle outputs send no watermarks. */
  private idle = false;

  constructor(
    readonly partition: ResultPartition,
    private readonly options: RecordWriterOptions,
  ) {
    this.subs = partition.subpartitions;
    this.broadcast = options.partitioner === "broadcast";
    this.select = channelSelector(options, this.subs.length);
    this.segmentSize = partition.pool.segmentSize;
    this.maxGrouped = Math.floor(this.segmentSize * MAX_GROUPED_FRACTION);
    if (this.broadcast) this.broadcastSerializer = new RecordSerializer();
    else for (const sub of this.subs) sub.serializer = new RecordSerializer();
  }

  collect(record: unknown, timestamp?: number): void {
    this.recordsOut++;
    if (this.broadcast) {
      const serializer = this.broadcastSerializer!;
      serializer.serialize(record, this.options.producer);
      const structures = serializer.newStructures();
      for (const sub of this.subs) this.writeRecord(sub, serializer, structures, timestamp);
    } else {
      const sub = this.subs[this.select(record)]!;
      const serializer = sub.serializer!;
      serializer.serialize(record, this.options.producer);
      this.writeRecord(sub, serializer, serializer.newStructures(), timestamp);
    }
  }

  /**
   * Writes the record `serializer` just encoded into `sub`: into the open group of its segment when it
   * fits, else into a new group (a small record), else as a frame of its own (see serialization.ts).
   */
  private writeRecord(sub: ResultSubpartition, serializer: RecordSerializer, structures: Uint8Array | undefined, timestamp: number | undefined): void {
    // A released subpartition has lost its reader for good (its consumer failed or was cancelled, or
    // the job attempt is ending) and has returned what it held: the record goes nowhere. Taking a
    // segment for it would leak that segment, since nothing releases a subpartition twice.
    if (sub.isReleased) return;
    if (structures) this.writeFrame(sub, FRAME_STRUCTURES, undefined, structures, 0, structures.length);
    const bytes = serializer.payload;
    const start = serializer.payloadStart;
    const end = serializer.payloadEnd;
    const timestamped = timestamp !== undefined;
    const need = end - start + (timestamped ? GROUP_TIMESTAMP_BYTES : 0);
    if (sub.spill.length === 0) {
      if (sub.groupAt >= 0 && sub.groupTimestamped === timestamped && this.segmentSize - sub.position >= need) {
        this.appendToGroup(sub, bytes, start, end, timestamp);
        return;
      }
      if (need <= this.maxGrouped) {
        this.closeGroup(sub);
        if (sub.segment !== undefined && this.segmentSize - sub.position < HEADER_BYTES + need) this.finishSegment(sub);
        if (sub.segment !== undefined || this.takeSegment(sub)) {
          // A placeholder header: its length is written when the group closes.
          sub.groupAt = sub.position;
          sub.groupTimestamped = timestamped;
          sub.position += HEADER_BYTES;
          this.bytesOut += HEADER_BYTES;
          this.appendToGroup(sub, bytes, start, end, timestamp);
          return;
        }
      }
    }
    this.writeFrame(sub, timestamped ? FRAME_TIMESTAMPED_RECORD : FRAME_RECORD, timestamp, bytes, start, end);
  }

  /** Appends a record (and its timestamp, in a timestamped group) to `sub`'s open group, which has room for it. */
  private appendToGroup(sub: ResultSubpartition, bytes: Uint8Array, start: number, end: number, timestamp: number | undefined): void {
    const segment = sub.segment!;
    let pos = sub.position;
    if (sub.groupTimestamped) pos = writeGroupTimestamp(segment, pos, timestamp);
    copyBytes(bytes, start, end, segment, pos);
    pos += end - start;
    this.bytesOut += pos - sub.position;
    sub.position = pos;
  }

  /** Writes the header of `sub`'s open group, if any: nothing more goes into it. */
  private closeGroup(sub: ResultSubpartition): void {
    if (sub.groupAt < 0) return;
    writeGroupHeader(sub.segment!, sub.groupAt, sub.position, sub.groupTimestamped);
    sub.groupAt = -1;
  }

  /**
   * Writes the frame of payload `bytes[start..end)` into `sub`'s segments, spilling what finds no
   * segment (a copy: the serializer reuses its buffer).
   */
  private writeFrame(sub: ResultSubpartition, kind: number, timestamp: number | undefined, bytes: Uint8Array, start: number, end: number): void {
    if (sub.spill.length > 0) {
      // Earlier frames wait for segments: this one goes behind them.
      sub.spill.push({ kind, timestamp, payload: bytes.slice(start, end), offset: 0, headerDone: false });
      this.blocked = true;
      return;
    }
    const written = this.continueFrame(sub, kind, timestamp, bytes, start, end, false);
    if (written === end) return;
    const headerDone = written >= 0;
    sub.spill.push({ kind, timestamp, payload: bytes.slice(headerDone ? written : start, end), offset: 0, headerDone });
    this.blocked = true;
  }

  /**
   * Writes as much of a frame as segments allow: its header (unless `headerDone`), then
   * `bytes[from..end)`. Returns how far into `bytes` it got (`end` when all is written), or -1 when
   * not even the header found room. A header (with its timestamp) is never split: it starts a new
   * segment when the current one has too little room.
   */
  private continueFrame(
    sub: ResultSubpartition,
    kind: number,
    timestamp: number | undefined,
    bytes: Uint8Array,
    from: number,
    end: number,
    headerDone: boolean,
  ): number {
    const size = this.segmentSize;
    if (!headerDone) {
      this.closeGroup(sub);
      const need = timestamp === undefined ? HEADER_BYTES : MAX_HEADER;
      if (sub.segment !== undefined && size - sub.position < need) this.finishSegment(sub);
      if (sub.segment === undefined && !this.takeSegment(sub)) return -1;
      sub.position = writeHeader(sub.segment!, sub.position, kind, end - from, timestamp);
      this.bytesOut += need;
    }
    let at = from;
    while (at < end) {
      if (sub.segment === undefined && !this.takeSegment(sub)) return at;
      const n = Math.min(size - sub.position, end - at);
      copyBytes(bytes, at, at + n, sub.segment!, sub.position);
      sub.position += n;
      at += n;
      this.bytesOut += n;
      if (sub.position === size) this.finishSegment(sub);
    }
    return end;
  }

  private takeSegment(sub: ResultSubpartition): boolean {
    const segment = this.partition.pool.requestSegment();
    if (segment === undefined) return false;
    sub.segment = segment;
    sub.position = 0;
    return true;
  }

  /** Queues the segment being filled (if it holds anything) for the reader. */
  private finishSegment(sub: ResultSubpartition): void {
    const segment = sub.segment;
    if (segment === undefined) return;
    this.closeGroup(sub);
    sub.segment = undefined;
    if (sub.position === 0) {
      this.partition.pool.recycleSegment(segment);
      return;
    }
    this.buffersOut++;
    sub.add({ type: "DATA", segment, length: sub.position });
    sub.position = 0;
    if (sub.queuedBuffers >= this.options.maxBuffersPerSubpartition) this.blocked = true;
  }

  /** Writes spilled frames and events of `sub` while segments last; true when the spill is empty. */
  private drainSpill(sub: ResultSubpartition): boolean {
    const spill = sub.spill;
    while (spill.length > 0) {
      const entry = spill[0]!;
      if ("payload" in entry) {
        // A frame whose header is written continues with the rest of its payload.
        const length = entry.payload.length;
        const written = this.continueFrame(sub, entry.kind, entry.timestamp, entry.payload, entry.offset, length, entry.headerDone);
        if (written !== length) {
          if (written >= 0) {
            entry.headerDone = true;
            entry.offset = written;
          }
          return false;
        }
      } else {
        this.finishSegment(sub);
        sub.add(entry);
      }
      spill.shift();
    }
    return true;
  }

  /**
   * Sends watermark `watermark` on every subpartition, behind the records written so far, if it is
   * later than the last one sent. While the output is idle watermarks are dropped (as Flink's
   * RecordWriterOutput does): consumers ignore watermarks of idle channels, and the producer's
   * watermark generator sends its current one again once active. MAX_WATERMARK is the exception.
   */
  emitWatermark(watermark: number): void {
    if (!(watermark > this.currentOutputWatermark)) return;
    if (this.idle) {
      if (watermark !== MAX_WATERMARK) return;
      // The end of event time gets through an idle output: consumers that left this channel out of
      // their minimum must still see it, or their windows would never fire at the end of input.
      this.emitWatermarkStatus(false);
    }
    this.currentOutputWatermark = watermark;
    this.broadcastEvent({ type: "WATERMARK", timestamp: watermark });
  }

  /** Announces idle / active on every subpartition when the status changes. */
  emitWatermarkStatus(idle: boolean): void {
    if (idle === this.idle) return;
    this.idle = idle;
    this.broadcastEvent({ type: "WATERMARK_STATUS", idle });
  }

  /** Side outputs are wired by the operator chain, not by network writers. */
  collectSide(): void {}

  /**
   * Sends a checkpoint barrier on every subpartition, right behind the records written so far: the
   * partly filled segment goes out first (no new segment is needed for that); where frames still wait
   * for segments, the barrier waits behind them in the spill.
   */
  broadcastBarrier(barrier: CheckpointBarrier): void {
    this.broadcastEvent(barrier);
  }

  /** An event on every subpartition behind the records written so far. */
  private broadcastEvent(event: NetworkEvent): void {
    for (const sub of this.subs) {
      if (sub.spill.length > 0) {
        sub.spill.push(event);
      } else {
        this.finishSegment(sub);
        sub.add(event);
      }
    }
  }

  isAvailable(): boolean {
    if (!this.blocked) return true;
    this.blocked = false;
    const max = this.options.maxBuffersPerSubpartition;
    for (let i = 0; i < this.subs.length; i++) {
      const sub = this.subs[i]!;
      if (sub.spill.length > 0 && !this.drainSpill(sub)) {
        this.blocked = true;
        return false;
      }
      if (sub.queuedBuffers >= max) {
        this.blocked = true;
        return false;
      }
    }
    return !this.blocked;
  }

  /** Resolves when a reader took a buffer or the pool got segments back; the caller checks again. */
  available(): Promise<void> {
    return Promise.race([this.partition.consumption.wait(), this.partition.pool.whenRecycled()]);
  }

  /** Queues every partly filled segment (buffer timeout, or before an event). Needs no new segment. */
  flush(): void {
    for (const sub of this.subs) if (sub.spill.length === 0) this.finishSegment(sub);
  }

  /** Ends the partition once every record is in a queued segment; false while spilled frames wait for segments. */
  finishIfFlushed(): boolean {
    for (const sub of this.subs) if (sub.spill.length > 0 && !this.drainSpill(sub)) return false;
    this.flush();
    this.partition.finish();
    return true;
  }

  /** Bytes of frames waiting for segments (what one input record produced after the pool ran dry). */
  spilledBytes(): number {
    let n = 0;
    for (const sub of this.subs) for (const e of sub.spill) if ("payload" in e) n += e.payload.length - e.offset;
    return n;
  }

  /**
   * Fraction (0..1) of the segments this output may hold that it holds: queued and being filled, over
   * its queue limits (Flink's outPoolUsage). A record spanning many segments can fill it completely.
   */
  usage(): number {
    let held = 0;
    for (const s of this.subs) held += s.heldSegments;
    return Math.min(1, held / (this.subs.length * this.options.maxBuffersPerSubpartition));
  }
}

/** xorshift32: deterministic per subtask, enough for spreading records. */
function xorshift(seed: number): () => number {
  let x = (seed * 0x9e3779b1 + 1) | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function channelSelector(o: RecordWriterOptions, n: number): (record: unknown) => number {
  switch (o.partitioner) {
    case "forward":
    case "broadcast":
      return () => 0;
    case "rebalance":
    case "rescale": {
      // Start at a subtask-dependent channel so producers do not all hit channel 0 first.
      let next = o.subtaskIndex % n;
      return () => {
        const c = next;
        next = next + 1 === n ? 0 : next + 1;
        return c;
      };
    }
    case "shuffle": {
      const rnd = xorshift(o.subtaskIndex + 1);
      return () => rnd() % n;
    }
    case "hash": {
      const key = o.keySelector;
      if (!key) throw new Error("hash partitioning needs a key selector");
      const maxP = o.maxParallelism;
      // The channel of every key group, computed once: per record a table lookup instead of a
      // floating-point division. The hash is an unsigned 32-bit integer, and `>>> 0` says so to the
      // compiler, which then takes the remainder in integer arithmetic. A string key, the usual one,
      // is hashed by murmur3Utf8 directly, which V8 inlines here (murmur3Key, which canonicalizes other
      // types first, is too large for that, and a hash returned from a call is a heap number 3 times in 4).
      const channelOf = new Uint16Array(maxP);
      for (let g = 0; g < maxP; g++) channelOf[g] = operatorIndexForKeyGroup(g, n, maxP);
      return (record) => {
        const k = key(record);
        return channelOf[((typeof k === "string" ? murmur3Utf8(k) : murmur3Key(k)) >>> 0) % maxP]!;
      };
    }
  }
}

export type { SpillEntry };
