import { existsSync, openSync, closeSync, fsyncSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DurableFile } from "./durable-file.js";

/**
 * The broker's small state (topics, committed offsets, transactions, producer id blocks) as
 * append-only files of JSON lines, one record a line, synced before the change it records is
 * acknowledged. Opening one replays it: a last line cut short by a crash is dropped (its change was
 * never acknowledged), and the file is rewritten with just the records that still matter, so it does
 * not grow without bound across restarts.
 */
export class Journal<T> {
  private constructor(private readonly file: DurableFile) {}

  /**
   * Reads the records, lets `compact` reduce them to those still needed, rewrites the file with those
   * (atomically: temporary file, fsync, rename, fsync of the directory) and opens it for appends.
   */
  static open<T>(path: string, fsync: boolean, compact: (records: T[]) => T[]): { journal: Journal<T>; records: T[] } {
    const records: T[] = [];
    if (existsSync(path)) {
      const lines = readFileSync(path, "utf8").split("\n");
      // The text after the last newline is a write cut short by a crash, never acknowledged.
      lines.pop();
      lines.forEach((line, i) => {
        try {
          records.push(JSON.parse(line) as T);
        } catch {
          throw new Error(`${path}: line ${i + 1} is not JSON; the file is damaged`);
        }
      });
    }
    const kept = compact(records);
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
    if (fsync) syncPath(tmp);
    renameSync(tmp, path);
    if (fsync) syncPath(dirname(path));
    return { journal: new Journal<T>(new DurableFile(path, fsync)), records: kept };
  }

  /** Appends a record; resolves once it is durable. */
  append(record: T): Promise<void> {
    this.file.append([Buffer.from(`${JSON.stringify(record)}\n`)]);
    return this.file.sync();
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** fsync of a file or a directory (after a rename or a new file in it). */
export function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
