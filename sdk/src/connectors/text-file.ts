import { open, type FileHandle } from "node:fs/promises";
import { RiffleError } from "@riffle/shared";
import type { RuntimeContext } from "../api/functions.js";
import type { PollResult, ReaderOutput, Source, SourceReader } from "../api/source.js";

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * A byte range of the file: the reader owns the lines that start in [pos, end). `aligned` says
 * whether `pos` is known to be a line start (a fresh range starting mid-file is not: its first partial
 * line belongs to the previous range).
 */
interface FileRange {
  pos: number;
  end: number;
  aligned: boolean;
}

/**
 * Lines of a text file. Subtask i of p reads the byte range [size*i/p, size*(i+1)/p) and owns the
 * lines that start inside it (as Hadoop's line reader does), so every line is read exactly once.
 * Positions are split state: the unread part of each range; on restore at another parallelism the
 * remaining ranges are shared out among the new subtasks.
 */
export class TextFileSource implements Source<string> {
  readonly boundedness = "bounded";
  readonly stateMode = "split";

  constructor(readonly path: string) {
    if (typeof path !== "string" || path.length === 0) throw new Error("readTextFile needs a file path");
  }

  createReader(ctx: RuntimeContext, restored?: unknown[]): SourceReader<string> {
    const ranges = restored ? (restored as FileRange[]).map((r) => ({ ...r })) : undefined;
    return new TextFileReader(this.path, ctx.subtaskIndex, ctx.parallelism, ranges);
  }
}

class TextFileReader implements SourceReader<string> {
  private file: FileHandle | undefined;
  private ranges: FileRange[] = [];
  /** The range being read; `current.pos` is the file offset of the first byte in `pending`. */
  private current: FileRange | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  /** File offset where each parsed line starts: the position to checkpoint while lines wait. */
  private lineStarts: number[] = [];
  /** The range the parsed lines came from (reading may have moved on to the next range). */
  private linesRange: FileRange | undefined;
  private lineIndex = 0;
  private eof = false;
  private done = false;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly subtask: number,
    private readonly parallelism: number,
    private readonly restoredRanges: FileRange[] | undefined,
  ) {}

  async start(): Promise<void> {
    try {
      this.file = await open(this.path, "r");
    } catch (err) {
      throw new RiffleError("FILE_NOT_FOUND", `cannot open input file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    if (this.restoredRanges) {
      this.ranges = this.restoredRanges.filter((r) => r.pos < r.end);
    } else {
      const size = (await this.file.stat()).size;
      const start = Math.floor((size * this.subtask) / this.parallelism);
      this.ranges = [{ pos: start, end: Math.floor((size * (this.subtask + 1)) / this.parallelism), aligned: start === 0 }];
    }
    await this.nextRange();
  }

  /** Moves to the next range, skipping a partial first line where the range starts mid-line. */
  private async nextRange(): Promise<void> {
    this.current = this.ranges.shift();
    this.pending = Buffer.alloc(0);
    this.eof = false;
    if (!this.current) {
      this.done = true;
      return;
    }
    if (!this.current.aligned) {
      let offset = this.current.pos - 1;
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await this.file!.read(buf, 0, CHUNK, offset);
        if (bytesRead === 0) {
          this.current.pos = this.current.end;
          break;
        }
        const nl = buf.subarray(0, bytesRead).indexOf(NEWLINE);
        if (nl >= 0) {
          this.current.pos = offset + nl + 1;
          break;
        }
        offset += bytesRead;
      }
      this.current.aligned = true;
    }
    if (this.current.pos >= this.current.end) await this.nextRange();
  }

  pollNext(output: ReaderOutput<string>, max: number): PollResult {
    let n = 0;
    while (n < max && this.lineIndex < this.lines.length) {
      output.collect(this.lines[this.lineIndex++]!);
      n++;
    }
    if (this.lineIndex < this.lines.length) return "MORE_AVAILABLE";
    if (this.done) return "END_OF_INPUT";
    this.reading ??= this.readMore();
    return n > 0 ? "MORE_AVAILABLE" : "NOTHING_AVAILABLE";
  }

  isAvailable(): Promise<void> {
    return this.reading ?? Promise.resolve();
  }

  /** Where reading resumes: the next unemitted line of the current range, and the ranges after it. */
  snapshotState(): FileRange[] {
    const out: FileRange[] = [];
    const waiting = this.lineIndex < this.lines.length ? this.linesRange : undefined;
    if (waiting) out.push({ pos: this.lineStarts[this.lineIndex]!, end: waiting.end, aligned: true });
    const current = this.current;
    if (current && current !== waiting && current.pos < current.end) out.push({ ...current });
    return [...out, ...this.ranges.map((r) => ({ ...r }))];
  }

  private async readMore(): Promise<void> {
    const range = this.current!;
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.file!.read(buf, 0, CHUNK, range.pos + this.pending.length);
    if (bytesRead === 0) this.eof = true;
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    const lines: string[] = [];
    const starts: number[] = [];
    let lineStart = 0;
    let rangeDone = false;
    for (;;) {
      if (range.pos + lineStart >= range.end) {
        rangeDone = true;
        break;
      }
      const nl = data.indexOf(NEWLINE, lineStart);
      if (nl < 0) {
        if (this.eof) {
          if (lineStart < data.length) {
            lines.push(stripCr(data.toString("utf8", lineStart)));
            starts.push(range.pos + lineStart);
            lineStart = data.length;
          }
          rangeDone = true;
        }
        break;
      }
      lines.push(stripCr(data.toString("utf8", lineStart, nl)));
      starts.push(range.pos + lineStart);
      lineStart = nl + 1;
    }
    this.pending = Buffer.from(data.subarray(lineStart));
    range.pos += lineStart;
    this.lines = lines;
    this.lineStarts = starts;
    this.linesRange = range;
    this.lineIndex = 0;
    if (rangeDone) {
      range.pos = range.end;
      await this.nextRange();
    }
    this.reading = undefined;
  }

  async close(): Promise<void> {
    await this.file?.close();
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
