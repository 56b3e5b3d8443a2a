import { closeSync, fdatasync, fstatSync, ftruncateSync, openSync, readSync, writevSync, constants } from "node:fs";

/**
 * An append-only file whose appends become durable through `sync()`: one fdatasync covers every
 * append made before it started, so the requests that arrive while a sync runs share the next one
 * (group commit). With `fsync: false` a sync resolves at once: appends then survive a kill -9 of the
 * broker (they are in the page cache) but not a crash of the machine.
 */
export class DurableFile {
  private readonly fd: number;
  private end: number;
  private syncedTo: number;
  private syncing = false;
  private onIdle: (() => void) | undefined;
  private waiters: Array<{ upTo: number; resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(
    readonly path: string,
    private readonly fsync: boolean,
  ) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    this.end = fstatSync(this.fd).size;
    this.syncedTo = this.end;
  }

  get size(): number {
    return this.end;
  }

  /** Appends the bytes at the end; returns where they start. */
  append(chunks: Buffer[]): number {
    const at = this.end;
    let written = 0;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    while (written < total) {
      // writev may write less than asked; continue from where it stopped.
      let skip = written;
      const rest: Buffer[] = [];
      for (const c of chunks) {
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        rest.push(skip > 0 ? c.subarray(skip) : c);
        skip = 0;
      }
      written += writevSync(this.fd, rest, at + written);
    }
    this.end += total;
    return at;
  }

  read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const n = readSync(this.fd, buf, read, length - read, position + read);
      if (n === 0) throw new Error(`${this.path}: ${length} bytes at ${position} asked, the file ends at ${position + read}`);
      read += n;
    }
    return buf;
  }

  /** Cuts the file at `size` (a torn write found at startup). */
  truncate(size: number): void {
    ftruncateSync(this.fd, size);
    this.end = size;
    this.syncedTo = Math.min(this.syncedTo, size);
  }

  /** Resolves once everything appended so far is on disk. */
  sync(): Promise<void> {
    if (!this.fsync || this.syncedTo >= this.end) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo: this.end, resolve, reject });
      this.startSync();
    });
  }

  private startSync(): void {
    if (this.syncing) return;
    this.syncing = true;
    const target = this.end;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      const done = this.waiters.filter((w) => w.upTo <= target);
      this.waiters = this.waiters.filter((w) => w.upTo > target);
      if (err) {
        for (const w of done) w.reject(err);
      } else {
        this.syncedTo = Math.max(this.syncedTo, target);
        for (const w of done) w.resolve();
      }
      if (this.waiters.length > 0) this.startSync();
      else this.onIdle?.();
    });
  }

  /** Closes the file once the syncs under way have finished. */
  async close(): Promise<void> {
    if (this.syncing) await new Promise<void>((resolve) => (this.onIdle = resolve));
    closeSync(this.fd);
  }
}
