import { RiffleError } from "@riffle/shared";
import type { NetworkBuffer } from "./buffer.js";
import type { ChannelOwner, InputChannel } from "./input-channel.js";
import type { PartitionManager } from "./partition-manager.js";
import type { ResultSubpartition, SubpartitionReader } from "./result-partition.js";

/**
 * Reads a subpartition produced on the same TaskManager straight from its queue: no credit is needed,
 * since the producer is already bounded by the shared pool and its subpartition queue limit.
 */
export class LocalInputChannel implements InputChannel, SubpartitionReader {
  private sub: ResultSubpartition | undefined;
  private closed = false;

  constructor(
    readonly index: number,
    readonly description: string,
    private readonly owner: ChannelOwner,
  ) {}

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

  poll(): NetworkBuffer | undefined {
    return this.sub?.poll();
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
