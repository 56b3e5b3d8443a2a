/**
 * Baseline of the checkpoint-1m-keys benchmark: the same entries as the checkpoint (key `k<i>` →
 * count 1) encoded with msgpackr, in frames of 4096 entries as the keyed snapshot format has them,
 * and written into one file in a plain loop, then fsynced (as a checkpoint's files are). It runs in
 * the benchmark's own process: a lower bound for writing that state, with no framework, no key
 * groups and no concurrent processing.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { stateKey } from "../jobs/records.js";

const FRAME_ENTRIES = 4096;

export interface MsgpackrFileResult {
  entries: number;
  ms: number;
  bytes: number;
}

export function writeEntriesWithMsgpackr(entries: number): MsgpackrFileResult {
  const dir = mkdtempSync(join(tmpdir(), "riffle-bench-msgpackr-"));
  const path = join(dir, "entries.bin");
  const packr = new Packr({ useRecords: true, moreTypes: true });
  try {
    const start = performance.now();
    const fd = openSync(path, "w");
    const frame: unknown[] = [];
    for (let i = 0; i < entries; i++) {
      frame.push(stateKey(i, entries), 1);
      if (frame.length === FRAME_ENTRIES * 2 || i === entries - 1) {
        writeSync(fd, packr.pack(frame));
        frame.length = 0;
      }
    }
    fdatasyncSync(fd);
    closeSync(fd);
    const ms = performance.now() - start;
    return { entries, ms, bytes: statSync(path).size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
