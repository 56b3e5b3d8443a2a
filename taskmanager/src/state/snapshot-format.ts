import { type FileHandle, mkdir, open, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type KeyGroupRange, RiffleError, decodeValue, encodeValue } from "@riffle/shared";
import type { KeyedStateHandle } from "./handles.js";
import { type StateMeta, isStateKind } from "./state-meta.js";
import { TIMER_ITEMS, type TimerSnapshot } from "./timer-snapshot.js";

/**
 * The keyed snapshot file, the same for every backend. Key groups come in ascending order, in frames
 * whose header names the key group, so a restore reads only the byte span of the key groups it owns
 * (the handle lists where each key group starts) and a scan can skip others without decoding them:
 *
 *   "RFKS" | version u8 | header length u32 | header (msgpack: maxParallelism, keyGroupRange, states, timers)
 *   frame*: kind+keyGroup u16 | payload length u32 | payload
 *     state frame (high bit 0): msgpack array: stateId, key, namespace, value, ...
 *     timer frame (high bit 1): msgpack array: queueId, timestamp, key, namespace, ...
 *
 * Values are the msgpack bytes of the stored value, kept as a binary item: the leveldb backend copies
 * them from and to its database without decoding them. All integers are big-endian.
 *
 * Timers (version 2) are keyed state too: the timer frames of a key group come before its state
 * frames, the header names the timer queues (`timers`, a queue's id is its index), and a timer's key
 * is the key itself (msgpack), not its canonical text, because timers fire with the key the user set.
 * Key groups are below 32768 (MAX_KEY_GROUPS), which leaves the high bit of the u16 for the frame kind.
 *
 * A payload is plain msgpack, whichever way it was written: `writeGroup` encodes an array of entries
 * with msgpackr; `addEntry` writes the items of one entry at a time straight into a large output
 * buffer (an array32 header patched when the frame closes, strings and binaries with headers that may
 * be wider than the smallest, as msgpack allows), so a backend that scans its entries builds no arrays.
 */
const MAGIC = Buffer.from("RFKS", "latin1");
/** 2: timer frames and the header's `timers` (timers were union operator state in version 1). */
const VERSION = 2;
const PREAMBLE = 9;
const FRAME_HEADER = 6;
/** The high bit of a frame's key-group word: the frame holds timers. */
const TIMER_FRAME = 0x8000;
/** Items per snapshot entry in a frame payload. */
export const ENTRY_ITEMS = 4;
/** Entries per frame: bounds the memory and the time of encoding one frame (a key group may take several). */
export const FRAME_ENTRIES = 4096;
/** Bytes `addEntry` buffers before the writer asks to be drained (see {@link KeyedSnapshotWriter.needsDrain}). */
const DRAIN_BYTES = 1 << 20;
/** msgpack array32 header: 0xdd | count u32. */
const ARRAY32 = 5;

interface FileHeader {
  maxParallelism: number;
  keyGroupRange: KeyGroupRange;
  /** `[id, name, kind, ttl]` per state. */
  states: [number, string, string, boolean][];
  /** Timer queue names, by id. */
  timers: string[];
}

export function keyedSnapshotFileName(range: KeyGroupRange): string {
  return `keyed-${range.start}-${range.end}.bin`;
}

/** Writes one keyed snapshot file; key groups must be written in ascending order. */
export class KeyedSnapshotWriter {
  /** Bytes written to the file. */
  private offset = 0;
  private lastKeyGroup = -1;
  private readonly offsets: [number, number][] = [];
  /** `addEntry`'s output: whole frames, and the open one (from `frameStart`), not written yet. */
  private buffer: Buffer = Buffer.alloc(0);
  private position = 0;
  /** Where the open frame starts in `buffer`, or -1. */
  private frameStart = -1;
  private frameKeyGroup = -1;
  private frameEntries = 0;
  /** The first key group whose timer frames are not buffered yet. */
  private nextTimerGroup: number;

  private constructor(
    private readonly file: FileHandle,
    private readonly dir: string,
    private readonly path: string,
    private readonly range: KeyGroupRange,
    private readonly timers: TimerSnapshot | undefined,
  ) {
    this.nextTimerGroup = range.start;
  }

  /**
   * A writer of the key groups of `range`. `timers`, captured with the state, are encoded here, each
   * key group's before its state entries, as the writer reaches that key group.
   */
  static async create(
    dir: string,
    range: KeyGroupRange,
    maxParallelism: number,
    states: readonly StateMeta[],
    timers?: TimerSnapshot,
  ): Promise<KeyedSnapshotWriter> {
    const path = keyedSnapshotFileName(range);
    let file: FileHandle;
    try {
      await mkdir(dir, { recursive: true });
      file = await open(join(dir, path), "w");
    } catch (err) {
      throw new RiffleError("STATE_BACKEND_FAILED", `cannot write a keyed snapshot in ${dir}: ${(err as Error).message}${storageHint(err)}`, { cause: err });
    }
    const writer = new KeyedSnapshotWriter(file, dir, path, range, timers);
    const header: FileHeader = {
      maxParallelism,
      keyGroupRange: range,
      states: states.map((s) => [s.id, s.name, s.kind, s.ttl]),
      timers: timers === undefined ? [] : timers.names.slice(),
    };
    const body = encodeValue(header);
    const preamble = Buffer.allocUnsafe(PREAMBLE);
    MAGIC.copy(preamble, 0);
    preamble.writeUInt8(VERSION, 4);
    preamble.writeUInt32BE(body.length, 5);
    await writer.append(preamble, body);
    return writer;
  }

  /** Appends entries (flat: stateId, key, namespace, value bytes, ...) of one key group. */
  async writeGroup(keyGroup: number, entries: readonly unknown[]): Promise<void> {
    if (entries.length === 0) return;
    this.bufferTimersThrough(keyGroup);
    if (this.position > 0) await this.drain();
    this.startKeyGroup(keyGroup, this.offset);
    const payload = encodeValue(entries);
    const header = Buffer.allocUnsafe(FRAME_HEADER);
    header.writeUInt16BE(keyGroup, 0);
    header.writeUInt32BE(payload.length, 2);
    await this.append(header, payload);
  }

  /**
   * Buffers one entry, in the frame of its key group (key groups ascending): the stored value's
   * msgpack bytes are given as latin1 text (a character per byte), and the key and the namespace as
   * `text` from `keyStart` to `keyEnd` and from `keyEnd` to its end. Call {@link drain} when
   * {@link needsDrain} says so.
   */
  addEntry(keyGroup: number, stateId: number, text: string, keyStart: number, keyEnd: number, value: string): void {
    if (this.frameStart >= 0 && (keyGroup !== this.frameKeyGroup || this.frameEntries >= FRAME_ENTRIES)) this.closeFrame();
    if (this.frameStart < 0) this.bufferTimersThrough(keyGroup);
    // Worst cases: stateId 3, a string header 5 plus 3 bytes per UTF-16 unit, a binary header 5.
    const most = 3 + 10 + 3 * (text.length - keyStart) + 5 + value.length;
    if (this.frameStart < 0) {
      this.ensure(FRAME_HEADER + ARRAY32 + most);
      this.startKeyGroup(keyGroup, this.offset + this.position);
      this.frameStart = this.position;
      this.frameKeyGroup = keyGroup;
      this.frameEntries = 0;
      this.position += FRAME_HEADER + ARRAY32;
    } else {
      this.ensure(most);
    }
    const out = this.buffer;
    let p = this.position;
    if (stateId < 0x80) out[p++] = stateId;
    else {
      out[p] = 0xcd;
      out.writeUInt16BE(stateId, p + 1);
      p += 3;
    }
    p = writeStr(out, p, text, keyStart, keyEnd);
    p = writeStr(out, p, text, keyEnd, text.length);
    const n = value.length;
    if (n < 0x100) {
      out[p] = 0xc4;
      out[p + 1] = n;
      p += 2;
    } else if (n < 0x10000) {
      out[p] = 0xc5;
      out.writeUInt16BE(n, p + 1);
      p += 3;
    } else {
      out[p] = 0xc6;
      out.writeUInt32BE(n, p + 1);
      p += 5;
    }
    if (n < 16) for (let i = 0; i < n; i++) out[p + i] = value.charCodeAt(i);
    else out.write(value, p, n, "latin1");
    this.position = p + n;
    this.frameEntries++;
  }

  /** True when `addEntry` has buffered enough to be written. */
  needsDrain(): boolean {
    return this.position >= DRAIN_BYTES;
  }

  /** Writes what `addEntry` buffered (closing the open frame: a key group may take several). */
  async drain(): Promise<void> {
    if (this.frameStart >= 0) this.closeFrame();
    if (this.position === 0) return;
    const bytes = this.buffer.subarray(0, this.position);
    try {
      await this.file.write(bytes, 0, bytes.length);
    } catch (err) {
      throw new RiffleError("STATE_BACKEND_FAILED", `cannot write ${join(this.dir, this.path)}: ${(err as Error).message}${storageHint(err)}`, { cause: err });
    }
    this.offset += bytes.length;
    this.position = 0;
  }

  async finish(): Promise<KeyedStateHandle> {
    if (this.frameStart >= 0) this.closeFrame();
    this.bufferTimersThrough(this.range.end);
    await this.drain();
    try {
      // Durable before the checkpoint can be acknowledged as complete.
      await this.file.datasync();
      await this.file.close();
    } catch (err) {
      throw new RiffleError("STATE_BACKEND_FAILED", `cannot write ${join(this.dir, this.path)}: ${(err as Error).message}${storageHint(err)}`, { cause: err });
    }
    return { kind: "keyed", path: this.path, keyGroupRange: { ...this.range }, size: this.offset, keyGroupOffsets: this.offsets };
  }

  /** Closes and deletes a file that will not be completed. */
  async abort(): Promise<void> {
    await this.file.close().catch(() => {});
    await rm(join(this.dir, this.path), { force: true }).catch(() => {});
  }

  /**
   * Buffers the timer frames of the key groups up to `keyGroup` not buffered yet (no state frame may
   * be open): they come before the state frames of their key group. A key group's timers are encoded
   * in one go, at most FRAME_ENTRIES of them per frame.
   */
  private bufferTimersThrough(keyGroup: number): void {
    const timers = this.timers;
    if (timers === undefined) return;
    const frameItems = FRAME_ENTRIES * TIMER_ITEMS;
    for (; this.nextTimerGroup <= keyGroup; this.nextTimerGroup++) {
      const group = this.nextTimerGroup;
      const flat = timers.takeGroup(group);
      if (flat === undefined) continue;
      for (let i = 0; i < flat.length; i += frameItems) {
        const payload = encodeValue(flat.length <= frameItems ? flat : flat.slice(i, i + frameItems));
        this.ensure(FRAME_HEADER + payload.length);
        this.startKeyGroup(group, this.offset + this.position);
        const out = this.buffer;
        out.writeUInt16BE(group | TIMER_FRAME, this.position);
        out.writeUInt32BE(payload.length, this.position + 2);
        payload.copy(out, this.position + FRAME_HEADER);
        this.position += FRAME_HEADER + payload.length;
      }
    }
  }

  private startKeyGroup(keyGroup: number, offset: number): void {
    if (keyGroup === this.lastKeyGroup) return;
    if (keyGroup < this.lastKeyGroup || keyGroup < this.range.start || keyGroup > this.range.end) {
      throw new RiffleError("INTERNAL", `key group ${keyGroup} written out of order or outside [${this.range.start}, ${this.range.end}]`);
    }
    this.offsets.push([keyGroup, offset]);
    this.lastKeyGroup = keyGroup;
  }

  private closeFrame(): void {
    const start = this.frameStart;
    const out = this.buffer;
    out.writeUInt16BE(this.frameKeyGroup, start);
    out.writeUInt32BE(this.position - start - FRAME_HEADER, start + 2);
    out[start + FRAME_HEADER] = 0xdd;
    out.writeUInt32BE(this.frameEntries * ENTRY_ITEMS, start + FRAME_HEADER + 1);
    this.frameStart = -1;
  }

  /** Room for `bytes` more in `buffer`, growing it (buffered bytes kept). */
  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(DRAIN_BYTES * 2, 2 * this.buffer.length, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  private async append(a: Buffer, b: Buffer): Promise<void> {
    try {
      await this.file.writev([a, b]);
    } catch (err) {
      throw new RiffleError("STATE_BACKEND_FAILED", `cannot write ${join(this.dir, this.path)}: ${(err as Error).message}${storageHint(err)}`, { cause: err });
    }
    this.offset += a.length + b.length;
  }
}

/** Writes `text` from `start` to `end` as a msgpack string at `p`; returns the position after it. */
function writeStr(out: Buffer, p: number, text: string, start: number, end: number): number {
  const n = end - start;
  if (n < 32) {
    // Short ASCII (most keys) character by character; anything else through Buffer#write.
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(start + i);
      if (c >= 0x80) break;
      out[p + 1 + i] = c;
    }
    if (i === n) {
      out[p] = 0xa0 | n;
      return p + 1 + n;
    }
  }
  const s = start === 0 && end === text.length ? text : text.slice(start, end);
  const most = 3 * n;
  if (most < 0x100) {
    const written = out.write(s, p + 2, most, "utf8");
    out[p] = 0xd9;
    out[p + 1] = written;
    return p + 2 + written;
  }
  if (most < 0x10000) {
    const written = out.write(s, p + 3, most, "utf8");
    out[p] = 0xda;
    out.writeUInt16BE(written, p + 1);
    return p + 3 + written;
  }
  const written = out.write(s, p + 5, most, "utf8");
  out[p] = 0xdb;
  out.writeUInt32BE(written, p + 1);
  return p + 5 + written;
}

export interface KeyedSnapshotVisitor {
  /** The states the file declares, with the file's ids, and its timer queues (a queue's id is its index). */
  onHeader(states: StateMeta[], timerQueues: string[]): void;
  onEntry(keyGroup: number, stateId: number, key: string, namespace: string, value: Uint8Array): void;
  /** A timer of queue `queueId`; without this callback, timer frames are skipped unread. */
  onTimer?: ((keyGroup: number, queueId: number, timestamp: number, key: unknown, namespace: string) => void) | undefined;
  /** Awaited after the entries of each frame. */
  afterFrame?: (() => Promise<void>) | undefined;
}

/** Reads the entries of the key groups of `range` from one snapshot file under `dir`. */
export async function readKeyedSnapshot(
  dir: string,
  handle: KeyedStateHandle,
  range: KeyGroupRange,
  maxParallelism: number,
  visitor: KeyedSnapshotVisitor,
): Promise<void> {
  const path = resolve(dir, handle.path);
  const fail = (why: string, cause?: unknown) => new RiffleError("STATE_RESTORE_FAILED", `keyed snapshot ${path}: ${why}`, { cause });
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    throw fail((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message, err);
  }
  try {
    // Frames end where the file ends, so a file cut at a frame boundary shows only in its size.
    const { size } = await file.stat();
    if (size !== handle.size) throw fail(`is ${size} bytes, but the checkpoint recorded ${handle.size}: truncated or replaced`);
    const preamble = await readAt(file, 0, PREAMBLE);
    if (preamble.length < PREAMBLE || !preamble.subarray(0, 4).equals(MAGIC)) throw fail("not a keyed snapshot file");
    if (preamble.readUInt8(4) !== VERSION) throw fail(`format version ${preamble.readUInt8(4)} is not supported (expected ${VERSION})`);
    const headerLength = preamble.readUInt32BE(5);
    const headerBytes = await readAt(file, PREAMBLE, headerLength);
    if (headerBytes.length < headerLength) throw fail("truncated header");
    const header = decodeOrFail<FileHeader>(headerBytes, fail);
    if (header.maxParallelism !== maxParallelism) {
      throw fail(
        `written with max parallelism ${header.maxParallelism}, but the job has ${maxParallelism}; max parallelism cannot change once a job has state`,
      );
    }
    visitor.onHeader(parseStates(header.states, fail), parseTimerQueues(header.timers, fail));

    let position = PREAMBLE + headerLength;
    let expectKeyGroup = -1;
    const offsets = Array.isArray(handle.keyGroupOffsets) ? handle.keyGroupOffsets : undefined;
    if (offsets !== undefined) {
      // The handle says where each key group starts: jump to the first one in range, if any.
      const first = offsets.find(([kg]) => kg >= range.start);
      if (first === undefined || first[0] > range.end) return;
      [expectKeyGroup, position] = first;
    }
    for (;;) {
      const frame = await readAt(file, position, FRAME_HEADER);
      if (frame.length === 0 && expectKeyGroup < 0) return;
      if (frame.length < FRAME_HEADER) throw fail(`truncated at byte ${position}`);
      const word = frame.readUInt16BE(0);
      const keyGroup = word & ~TIMER_FRAME;
      const timerFrame = (word & TIMER_FRAME) !== 0;
      const length = frame.readUInt32BE(2);
      if (expectKeyGroup >= 0 && keyGroup !== expectKeyGroup)
        throw fail(`the handle places key group ${expectKeyGroup} at byte ${position}, where key group ${keyGroup} is`);
      expectKeyGroup = -1;
      if (keyGroup > range.end) return;
      if (keyGroup >= range.start && (!timerFrame || visitor.onTimer !== undefined)) {
        const payload = await readAt(file, position + FRAME_HEADER, length);
        if (payload.length < length) throw fail(`truncated frame of key group ${keyGroup} at byte ${position}`);
        const items = decodeOrFail<unknown>(payload, fail);
        if (timerFrame) visitTimerFrame(keyGroup, items, visitor.onTimer!, fail);
        else visitFrame(keyGroup, items, visitor, fail);
        if (visitor.afterFrame !== undefined) await visitor.afterFrame();
      }
      position += FRAME_HEADER + length;
    }
  } finally {
    await file.close().catch(() => {});
  }
}

function visitFrame(keyGroup: number, entries: unknown, visitor: KeyedSnapshotVisitor, fail: (why: string) => RiffleError): void {
  if (!Array.isArray(entries) || entries.length % ENTRY_ITEMS !== 0) throw fail(`frame of key group ${keyGroup} is malformed`);
  for (let i = 0; i < entries.length; i += ENTRY_ITEMS) {
    const stateId = entries[i];
    const key = entries[i + 1];
    const namespace = entries[i + 2];
    const value = entries[i + 3];
    if (typeof stateId !== "number" || typeof key !== "string" || typeof namespace !== "string" || !(value instanceof Uint8Array)) {
      throw fail(`frame of key group ${keyGroup} has a malformed entry`);
    }
    visitor.onEntry(keyGroup, stateId, key, namespace, value);
  }
}

function visitTimerFrame(keyGroup: number, items: unknown, onTimer: NonNullable<KeyedSnapshotVisitor["onTimer"]>, fail: (why: string) => RiffleError): void {
  if (!Array.isArray(items) || items.length % TIMER_ITEMS !== 0) throw fail(`timer frame of key group ${keyGroup} is malformed`);
  for (let i = 0; i < items.length; i += TIMER_ITEMS) {
    const queueId = items[i];
    const timestamp = items[i + 1];
    const namespace = items[i + 3];
    if (typeof queueId !== "number" || typeof timestamp !== "number" || typeof namespace !== "string") {
      throw fail(`timer frame of key group ${keyGroup} has a malformed timer`);
    }
    onTimer(keyGroup, queueId, timestamp, items[i + 2], namespace);
  }
}

function parseTimerQueues(timers: unknown, fail: (why: string) => RiffleError): string[] {
  if (!Array.isArray(timers) || !timers.every((t) => typeof t === "string")) throw fail("header has no timer queue list");
  return timers as string[];
}

function parseStates(states: unknown, fail: (why: string) => RiffleError): StateMeta[] {
  if (!Array.isArray(states)) throw fail("header has no state list");
  return states.map((s: unknown) => {
    if (!Array.isArray(s) || typeof s[0] !== "number" || typeof s[1] !== "string" || !isStateKind(s[2]) || typeof s[3] !== "boolean") {
      throw fail(`header declares a malformed state ${JSON.stringify(s)}`);
    }
    return { id: s[0], name: s[1], kind: s[2], ttl: s[3] };
  });
}

function decodeOrFail<T>(bytes: Uint8Array, fail: (why: string, cause?: unknown) => RiffleError): T {
  try {
    return decodeValue<T>(bytes);
  } catch (err) {
    throw fail(`corrupt data: ${(err as Error).message}`, err);
  }
}

/** Up to `length` bytes at `position`: fewer only at the end of the file. */
async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await file.read(buffer, read, length - read, position + read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return read === length ? buffer : buffer.subarray(0, read);
}

/** What to do about a failed write to checkpoint storage, for the errors that have an obvious fix. */
export function storageHint(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return "; free space on the checkpoint storage (state.checkpoints.dir) or retain fewer checkpoints";
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") return "; make state.checkpoints.dir writable by the TaskManager";
  return "";
}
