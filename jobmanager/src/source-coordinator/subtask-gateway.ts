import type { OperatorEvent } from "@riffle/sdk/internal";

/** Sends one event to the reader's execution; resolves once the event is in the task's mailbox. */
export type EventSender = (event: OperatorEvent) => Promise<void>;

/**
 * Events from a source's coordinator to one reader (one execution), in order (Flink's
 * SubtaskGatewayImpl). One event is in flight at a time: the next is sent once the TaskManager has put
 * the previous one in the task's mailbox, so the reader sees them in the order they were sent, and a
 * checkpoint trigger sent after `whenDrained()` lands behind all of them.
 *
 * Around a checkpoint the gateway is closed: events sent from the coordinators' snapshot of checkpoint
 * n until the trigger of n reached the source tasks are held back, and go out after the trigger when it
 * opens again, so the reader's snapshot of n does not hold them (the coordinators' snapshot does).
 *
 *   open ──close(n)──► closed: events held ──open(n)──► open: held events go out
 */
export class SubtaskGateway {
  private readonly queue: OperatorEvent[] = [];
  private readonly held: OperatorEvent[] = [];
  private inFlight = false;
  private closedFor: number | undefined;
  private disposed = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly sendEvent: EventSender,
    private readonly lost: (event: OperatorEvent, error: unknown) => void,
  ) {}

  send(event: OperatorEvent): void {
    if (this.disposed) return;
    if (this.closedFor !== undefined) this.held.push(event);
    else {
      this.queue.push(event);
      this.pump();
    }
  }

  /** From the coordinators' snapshot of checkpoint n on, events are held back. */
  close(checkpointId: number): void {
    this.closedFor = checkpointId;
  }

  /** The trigger of checkpoint n reached the tasks (or n failed): held events go out. */
  open(checkpointId: number): void {
    if (this.closedFor !== checkpointId) return;
    this.closedFor = undefined;
    this.queue.push(...this.held.splice(0));
    this.pump();
  }

  /** Resolves once every event sent before now (not the held ones) is in the task's mailbox, or failed. */
  whenDrained(): Promise<void> {
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** The execution is gone: nothing more is sent, waiters go on. */
  dispose(): void {
    this.disposed = true;
    this.queue.length = 0;
    this.held.length = 0;
    this.drained();
  }

  private pump(): void {
    if (this.inFlight || this.disposed) return;
    const event = this.queue.shift();
    if (!event) {
      this.drained();
      return;
    }
    this.inFlight = true;
    this.sendEvent(event).then(
      () => {
        this.inFlight = false;
        this.pump();
      },
      (err: unknown) => {
        this.inFlight = false;
        if (!this.disposed) this.lost(event, err);
        this.pump();
      },
    );
  }

  private drained(): void {
    if (this.inFlight || this.queue.length > 0) return;
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
}
