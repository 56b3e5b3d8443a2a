import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { RuntimeContext } from "../api/functions.js";
import type { Sink, SinkWriter } from "../api/sink.js";
import { formatRecord } from "./format.js";
import { StreamWriter } from "./print.js";

/**
 * One line per record into `dir/part-<subtask>`. At-least-once: after a failure a restarted job writes
 * the file again from the start. (The exactly-once file sink comes with checkpoints.)
 */
export class FileSink<T> implements Sink<T> {
  constructor(readonly dir: string) {
    if (typeof dir !== "string" || dir.length === 0) throw new Error("the file sink needs a directory");
  }

  createWriter(ctx: RuntimeContext): SinkWriter<T> {
    mkdirSync(this.dir, { recursive: true });
    const stream = createWriteStream(join(this.dir, `part-${ctx.subtaskIndex}`));
    return new FileWriter<T>(stream);
  }
}

class FileWriter<T> extends StreamWriter<T> {
  constructor(private readonly file: WriteStream) {
    super(file, (r) => `${formatRecord(r)}\n`);
  }

  /** Before a barrier: what was written left the process. At end of input: the file is closed. */
  override async flush(endOfInput: boolean): Promise<void> {
    if (!endOfInput) return super.flush(endOfInput);
    await new Promise<void>((resolve, reject) => {
      this.file.once("error", reject);
      this.file.end(() => resolve());
    });
  }

  close(): void {
    if (!this.file.closed) this.file.destroy();
  }
}
