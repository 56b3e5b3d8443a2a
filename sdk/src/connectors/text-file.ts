import { open, type FileHandle } from "node:fs/promises";
import { RiffleError } from "@riffle/shared";
import type { RuntimeContext } from "../api/functions.js";
import type { PollResult, ReaderOutput, Source, SourceReader } from "../api/source.js";

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

/**
 * Lines of a text file. Subtask i of p reads the byte range [size*i/p, size*(i+1)/p) and owns the
 * lines that start inside it (as Hadoop's line reader does), so every line is read exactly once.
 */
export class TextFileSource implements Source<string> {
  readonly boundedness = "bounded";

  constructor(readonly path: string) {
    if (typeof path !== "string" || path.length === 0) throw new Error("readTextFile needs a file path");
  }

  createReader(ctx: RuntimeContext): SourceReader<string> {
    return new TextFileReader(this.path, ctx.subtaskIndex, ctx.parallelism);
  }
}

class TextFileReader implements SourceReader<string> {
  private file: FileHandle | undefined;
  private end = 0;
  /** File offset of the first byte in `pending`. */
  private pos = 0;
  private pending: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private lineIndex = 0;
  private eof = false;
  private done = false;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly subtask: number,
    private readonly parallelism: number,
  ) {}

  async start(): Promise<void> {
    try {
      this.file = await open(this.path, "r");
    } catch (err) {
      throw new RiffleError("FILE_NOT_FOUND", `cannot open input file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    const size = (await this.file.stat()).size;
    const start = Math.floor((size * this.subtask) / this.parallelism);
    this.end = Math.floor((size * (this.subtask + 1)) / this.parallelism);
    if (start === 0) {
      this.pos = 0;
    } else {
      // Skip the line that started in the previous range: find the first newline at or after start-1.
      let offset = start - 1;
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await this.file.read(buf, 0, CHUNK, offset);
        if (bytesRead === 0) {
          this.pos = size;
          break;
        }
        const nl = buf.subarray(0, bytesRead).indexOf(NEWLINE);
        if (nl >= 0) {
          this.pos = offset + nl + 1;
          break;
        }
        offset += bytesRead;
      }
    }
    if (this.pos >= this.end) this.done = true;
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

  private async readMore(): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    const readAt = this.pos + this.pending.length;
    const { bytesRead } = await this.file!.read(buf, 0, CHUNK, readAt);
    if (bytesRead === 0) this.eof = true;
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    const lines: string[] = [];
    let lineStart = 0;
    for (;;) {
      if (this.pos + lineStart >= this.end) {
        this.done = true;
        break;
      }
      const nl = data.indexOf(NEWLINE, lineStart);
      if (nl < 0) {
        if (this.eof) {
          if (lineStart < data.length) lines.push(stripCr(data.toString("utf8", lineStart)));
          this.done = true;
        }
        break;
      }
      lines.push(stripCr(data.toString("utf8", lineStart, nl)));
      lineStart = nl + 1;
    }
    this.pending = Buffer.from(data.subarray(lineStart));
    this.pos += lineStart;
    this.lines = lines;
    this.lineIndex = 0;
    this.reading = undefined;
  }

  async close(): Promise<void> {
    await this.file?.close();
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
