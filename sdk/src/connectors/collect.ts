import type { RuntimeContext } from "../api/functions.js";
import type { Sink, SinkServices, SinkWriter } from "../api/sink.js";

/** Records waiting in one subtask before the sink reports no room. */
const MAX_PENDING = 8192;

/**
 * Sends records to the JobManager, which hands them to the client that submitted the job. One batch
 * is in flight at a time; records written meanwhile form the next batch. When the JobManager holds
 * back its answer (a slow client) the pending records fill up and the task is back-pressured.
 */
export class CollectSink<T> implements Sink<T> {
  createWriter(_ctx: RuntimeContext, services: SinkServices): SinkWriter<T> {
    return new CollectWriter<T>(services);
  }
}

class CollectWriter<T> implements SinkWriter<T> {
  private pending: T[] = [];
  private inFlight: Promise<void> | undefined;
  private failure: unknown;

  constructor(private readonly services: SinkServices) {}

  write(record: T): void {
    if (this.failure !== undefined) throw this.failure;
    this.pending.push(record);
    if (!this.inFlight) this.inFlight = this.sendLater();
  }

  isAvailable(): boolean {
    return this.failure !== undefined || this.pending.length < MAX_PENDING;
  }

  async available(): Promise<void> {
    while (this.inFlight && this.pending.length >= MAX_PENDING) await this.inFlight;
  }

  async flush(_endOfInput: boolean): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Sends after the current mailbox step, so one step's records travel together. */
  private async sendLater(): Promise<void> {
    await Promise.resolve();
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.services.collect(batch);
      }
    } catch (err) {
      this.failure = err;
    } finally {
      this.inFlight = undefined;
    }
  }
}
