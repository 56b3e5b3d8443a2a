import type { Sink, SinkWriter } from "../api/sink.js";
import { StreamOperator, type OperatorRuntime } from "./operator.js";

export class SinkOperator extends StreamOperator {
  private writer: SinkWriter<unknown> | undefined;

  constructor(private readonly sink: Sink<unknown>) {
    super();
    if (typeof sink?.createWriter !== "function") throw new Error("sinkTo needs a Sink (an object with createWriter)");
  }

  override async open(rt: OperatorRuntime): Promise<void> {
    this.writer = await this.sink.createWriter(rt.ctx, rt.services);
  }

  processElement(record: unknown): void {
    this.writer!.write(record);
  }

  /** Whether the writer can ever report no room (after open). */
  canBlock(): boolean {
    return typeof this.writer?.isAvailable === "function";
  }

  override isAvailable(): boolean {
    return this.writer?.isAvailable?.() ?? true;
  }

  override available(): Promise<void> {
    return this.writer?.available?.() ?? Promise.resolve();
  }

  override async endInput(): Promise<void> {
    await this.writer?.flush?.();
  }

  override async close(): Promise<void> {
    await this.writer?.close?.();
  }
}
