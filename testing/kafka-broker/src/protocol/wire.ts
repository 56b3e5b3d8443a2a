/**
 * Kafka's primitive types on the wire (https://kafka.apache.org/protocol#protocol_types): big-endian
 * integers, int16-length strings, int32-length bytes and arrays, zig-zag varints, and in flexible
 * versions the compact forms (unsigned varint length + 1) and tagged fields.
 *
 * The Reader checks every length against what is left of the request, so a malformed request ends in
 * a {@link MalformedRequestError} instead of a read past the end or a huge allocation. The Writer
 * collects small writes in one growing buffer and keeps large byte blocks (record batches read from
 * the log) as chunks of their own, so a Fetch response is written without copying its records.
 */

/** The request cannot be decoded; the broker logs it and closes the connection, as Kafka does. */
export class MalformedRequestError extends Error {
  override readonly name = "MalformedRequestError";
}

export class Reader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
    /** Compact strings, bytes and arrays, and tagged fields (the request's version is flexible). */
    public flexible = false,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end)
      throw new MalformedRequestError(`${what} of ${n} bytes at byte ${this.pos} runs past the request's end (${this.end})`);
  }

  skip(n: number): void {
    this.need(n, "skipped field");
    this.pos += n;
  }

  int8(): number {
    this.need(1, "int8");
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2, "int16");
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4, "int32");
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An int64 as a number: offsets, producer ids and timestamps stay far below 2^53. */
  int64(): number {
    this.need(8, "int64");
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new MalformedRequestError(`int64 ${v} is out of the range this broker handles`);
    return Number(v);
  }

  uvarint(): number {
    let result = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      this.need(1, "varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new MalformedRequestError("unsigned varint longer than 5 bytes");
  }

  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** A varlong (zig-zag, up to 10 bytes) as a number. */
  varlong(): number {
    let result = 0n;
    for (let shift = 0n; shift <= 63n; shift += 7n) {
      this.need(1, "varlong");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return Number((result >> 1n) ^ -(result & 1n));
    }
    throw new MalformedRequestError("varlong longer than 10 bytes");
  }

  /** A length or count: -1 is null, anything below is malformed. */
  private length(kind: "string" | "bytes" | "array"): number {
    const n = this.flexible ? this.uvarint() - 1 : kind === "string" ? this.int16() : this.int32();
    if (n < -1) throw new MalformedRequestError(`${kind} length ${n}`);
    return n;
  }

  nullableString(): string | null {
    const n = this.length("string");
    if (n < 0) return null;
    this.need(n, "string");
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new MalformedRequestError("null where a string is required");
    return s;
  }

  /** The request header's client id: an int16-length string even in flexible versions. */
  classicNullableString(): string | null {
    const wasFlexible = this.flexible;
    this.flexible = false;
    try {
      return this.nullableString();
    } finally {
      this.flexible = wasFlexible;
    }
  }

  nullableBytes(): Buffer | null {
    const n = this.length("bytes");
    if (n < 0) return null;
    this.need(n, "bytes");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  /** Bytes of a varint length (-1 = null), as in a record's key and value. */
  varintBytes(): Buffer | null {
    const n = this.varint();
    if (n < 0) return null;
    this.need(n, "bytes");
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.length("array");
    if (n < 0) return null;
    // Every element takes at least one byte: a count beyond what is left cannot be honest.
    if (n > this.remaining) throw new MalformedRequestError(`array of ${n} elements with ${this.remaining} bytes left`);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = item(this);
    return out;
  }

  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }

  /** Skips the tagged fields of a flexible structure (this broker knows none). */
  taggedFields(): void {
    if (!this.flexible) return;
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      const size = this.uvarint();
      this.need(size, "tagged field");
      this.pos += size;
    }
  }
}

const CHUNK_THRESHOLD = 4096;

export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Where the current buffer's unflushed part starts. */
  private mark = 0;
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(
    public flexible = false,
    initial = 1024,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flushCurrent();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    this.pos = 0;
    this.mark = 0;
  }

  private flushCurrent(): void {
    if (this.pos > this.mark) {
      this.chunks.push(this.buf.subarray(this.mark, this.pos));
      this.total += this.pos - this.mark;
      this.mark = this.pos;
    }
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos++);
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: number): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  uvarint(v: number): this {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  varlong(v: number): this {
    let z = (BigInt(v) << 1n) ^ (BigInt(v) >> 63n);
    this.ensure(10);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
    return this;
  }

  private writeLength(kind: "string" | "bytes" | "array", n: number): void {
    if (this.flexible) this.uvarint(n + 1);
    else if (kind === "string") this.int16(n);
    else this.int32(n);
  }

  nullableString(s: string | null): this {
    if (s === null) {
      this.writeLength("string", -1);
      return this;
    }
    const n = Buffer.byteLength(s);
    this.writeLength("string", n);
    this.ensure(n);
    this.buf.write(s, this.pos, "utf8");
    this.pos += n;
    return this;
  }

  string(s: string): this {
    return this.nullableString(s);
  }

  nullableBytes(b: Buffer | null): this {
    if (b === null) {
      this.writeLength("bytes", -1);
      return this;
    }
    this.writeLength("bytes", b.length);
    return this.raw(b);
  }

  bytes(b: Buffer): this {
    return this.nullableBytes(b);
  }

  /** Bytes of a varint length, as in a record's key and value. */
  varintBytes(b: Buffer | null): this {
    if (b === null) return this.varint(-1);
    this.varint(b.length);
    return this.raw(b);
  }

  nullableArray<T>(items: readonly T[] | null, item: (w: Writer, v: T) => void): this {
    if (items === null) {
      this.writeLength("array", -1);
      return this;
    }
    this.writeLength("array", items.length);
    for (const v of items) item(this, v);
    return this;
  }

  array<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    return this.nullableArray(items, item);
  }

  /** No tagged fields (flexible versions only). */
  taggedFields(): this {
    if (this.flexible) this.uvarint(0);
    return this;
  }

  /** Raw bytes; large blocks are kept as their own chunk instead of being copied. */
  raw(b: Buffer): this {
    if (b.length >= CHUNK_THRESHOLD) {
      this.flushCurrent();
      this.chunks.push(b);
      this.total += b.length;
      return this;
    }
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }

  get length(): number {
    return this.total + (this.pos - this.mark);
  }

  /** The written bytes, as chunks to write in order. */
  finish(): Buffer[] {
    this.flushCurrent();
    return this.chunks;
  }

  /** The written bytes as one buffer (for small messages and tests). */
  toBuffer(): Buffer {
    return Buffer.concat(this.finish());
  }
}
