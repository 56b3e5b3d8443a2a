import type { InputItem } from "./buffer.js";

/** One producer subtask's data as seen by a consuming task. */
export interface InputChannel {
  readonly index: number;
  /** Where it reads from, for error messages. */
  readonly description: string;
  /** Takes and decodes the next buffer, freeing the memory it occupied. */
  poll(): InputItem | undefined;
  hasData(): boolean;
  /** Buffers received and not yet taken (inPoolUsage). */
  queuedBuffers(): number;
  close(): void;
}

/** What a channel tells its gate. */
export interface ChannelOwner {
  notifyChannelNonEmpty(channel: InputChannel): void;
  notifyChannelFailed(channel: InputChannel, error: Error): void;
}
