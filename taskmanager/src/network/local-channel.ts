import { RiffleError } from "@riffle/shared";
import type { InputItem } from "./buffer.js";
import type { ChannelOwner, InputChannel } from "./input-channel.js";
import type { PartitionManager } from "./partition-manager.js";
import type { ResultSubpartition, SubpartitionReader } from "./result-partition.js";
import { type DecodedRecords, RecordDeserializer } from "./serialization.js";

/**
 * Reads a subpartition produced in the same slot straight from its queue: each segment is decoded in
 * place and goes back to the pool at once. No credit is needed, since the producer is bounded by the
 * slot's pool and its subpartition queue limit.
 */
export class LocalInputChannel implements InputChannel, SubpartitionReader {
  private sub: ResultSubpartition | undefined;
  private closed = false;
  private readonly deserializer: RecordDeserializer;

  constructor(
    readonly index: number,
    readonly description: string,
    private readonly owner: ChannelOwner,
  ) {
    this.deserializer = new RecordDeserializer(description);
  }

  async connect(partitions: PartitionManager, partitionId: string, subpartition: number, timeoutMs: number): Promise<void> {
    try {
      const partition = await partitions.waitFor(partitionId, timeoutMs);
      if (this.closed) return;
      this.sub = partition.subpartition(subpartition);
      this.sub.setReader(this);
    } catch (err) {
      this.owner.notifyChannelFailed(this, err as Error);
    }
  }

  notifyDataAvailable(): void {
    this.owner.notifyChannelNonEmpty(this);
  }

  notifyReleased(error: RiffleError): void {
    if (!this.closed) this.owner.notifyChannelFailed(this, new RiffleError(error.code, `${this.description}: ${error.message}`, { cause: error }));
  }

  poll(): InputItem | undefined {
    const sub = this.sub;
    const buffer = sub?.poll();
    if (buffer === undefined || buffer.type !== "DATA") return buffer;
    const out: DecodedRecords = { records: [], timestamps: undefined };
    try {
      this.deserializer.decode(buffer.segment.subarray(0, buffer.length), out);
    } finally {
      sub!.recycle(buffer.segment);
    }
    return { type: "DATA", records: out.records, timestamps: out.timestamps, bytes: buffer.length };
  }

  hasData(): boolean {
    return this.sub?.hasData() ?? false;
  }

  queuedBuffers(): number {
    return 0;
  }

  close(): void {
    this.closed = true;
    this.sub?.removeReader(this);
  }
}
