import { RiffleError } from "@riffle/shared";
import type { InternalKeyedStateBackend } from "../state/backend.js";
import { MIN_WATERMARK, type ProcessingTimeService } from "../operators/operator.js";
import type { InternalTimer, TimerHeap } from "./timer-heap.js";

export type { InternalTimer } from "./timer-heap.js";

/** The timers a user function can set (Flink's TimerService). Timers belong to the current key. */
export interface TimerService {
  currentProcessingTime(): number;
  currentWatermark(): number;
  registerProcessingTimeTimer(time: number): void;
  registerEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
}

export type TimeDomain = "EVENT_TIME" | "PROCESSING_TIME";

/** The timer service of a non-keyed function: it tells the time; setting timers needs a key. */
export function nonKeyedTimerService(processingTime: ProcessingTimeService, currentWatermark: () => number): TimerService {
  const noTimers = (): never => {
    throw new RiffleError("JOB_INVALID_GRAPH", "timers need a keyed stream: use keyBy(...).process(...) (or connect(...).keyBy(k1, k2)) to set timers");
  };
  return {
    currentProcessingTime: () => processingTime.getCurrentProcessingTime(),
    currentWatermark,
    registerEventTimeTimer: noTimers,
    registerProcessingTimeTimer: noTimers,
    deleteEventTimeTimer: noTimers,
    deleteProcessingTimeTimer: noTimers,
  };
}

/** What a timer service calls when a timer fires; the key and namespace of the timer are current then. */
export interface Triggerable {
  onEventTime(timer: InternalTimer): void;
  onProcessingTime(timer: InternalTimer): void;
}

/**
 * Event-time and processing-time timers of one keyed operator (Flink's InternalTimerServiceImpl).
 * A timer is (timestamp, key, namespace); registering the same one twice keeps one. Event-time timers
 * fire when the watermark passes them; processing-time timers when the wall clock does, through the
 * task's mailbox. Both run with the timer's key and namespace set on the keyed state backend.
 *
 * The two queues belong to the keyed state backend (`<name>/event`, `<name>/processing`), which
 * checkpoints them with the keyed state, by key group, and restores into them only the key groups of
 * this subtask, at any parallelism: the service itself has nothing to snapshot.
 */
export class InternalTimerService {
  private readonly eventTimers: TimerHeap;
  private readonly processingTimers: TimerHeap;
  private watermark = MIN_WATERMARK;
  /** The processing time the next wake-up is set for, and how to cancel it. */
  private wakeUpAt = Number.POSITIVE_INFINITY;
  private cancelWakeUp: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly backend: InternalKeyedStateBackend,
    private readonly processingTime: ProcessingTimeService,
    private readonly target: Triggerable,
  ) {
    this.eventTimers = backend.getTimerQueue(`${name}/event`);
    this.processingTimers = backend.getTimerQueue(`${name}/processing`);
    // Restored processing-time timers need a wake-up (due ones fire at once, through the mailbox).
    const first = this.processingTimers.peek();
    if (first) this.scheduleWakeUp(first.timestamp);
  }

  currentWatermark(): number {
    return this.watermark;
  }

  currentProcessingTime(): number {
    return this.processingTime.getCurrentProcessingTime();
  }

  registerEventTimeTimer(namespace: string, time: number): void {
    this.eventTimers.add(checkTime(time), this.backend.getCurrentKey(), namespace, this.currentKeyGroup());
  }

  deleteEventTimeTimer(namespace: string, time: number): void {
    this.eventTimers.remove(time, this.backend.getCurrentKey(), namespace);
  }

  registerProcessingTimeTimer(namespace: string, time: number): void {
    this.processingTimers.add(checkTime(time), this.backend.getCurrentKey(), namespace, this.currentKeyGroup());
    if (time < this.wakeUpAt) this.scheduleWakeUp(time);
  }

  deleteProcessingTimeTimer(namespace: string, time: number): void {
    this.processingTimers.remove(time, this.backend.getCurrentKey(), namespace);
  }

  /** Number of registered timers (both domains). */
  size(): number {
    return this.eventTimers.size + this.processingTimers.size;
  }

  /**
   * Fires the event-time timers at or before `watermark`, in timestamp order, at most `budget` of
   * them; returns the budget left (0: there may be more to fire, call again).
   */
  advanceWatermark(watermark: number, budget = Number.POSITIVE_INFINITY): number {
    if (watermark > this.watermark) this.watermark = watermark;
    for (let t = this.eventTimers.peek(); t !== undefined && t.timestamp <= watermark; t = this.eventTimers.peek()) {
      if (budget <= 0) return 0;
      budget--;
      this.eventTimers.poll();
      this.backend.setCurrentKey(t.key);
      this.backend.setCurrentNamespace(t.namespace);
      this.target.onEventTime(t);
    }
    return Math.max(budget, 1);
  }

  /** A view for user functions: timers in the key's own namespace. */
  userTimerService(namespace = ""): TimerService {
    return {
      currentProcessingTime: () => this.currentProcessingTime(),
      currentWatermark: () => this.watermark,
      registerProcessingTimeTimer: (t) => this.registerProcessingTimeTimer(namespace, t),
      registerEventTimeTimer: (t) => this.registerEventTimeTimer(namespace, t),
      deleteProcessingTimeTimer: (t) => this.deleteProcessingTimeTimer(namespace, t),
      deleteEventTimeTimer: (t) => this.deleteEventTimeTimer(namespace, t),
    };
  }

  /** Stops the wake-up for processing-time timers (the task is ending). */
  close(): void {
    this.cancelWakeUp?.();
    this.cancelWakeUp = undefined;
    this.wakeUpAt = Number.POSITIVE_INFINITY;
  }

  /** The key group of the current key: a timer is checkpointed under it. */
  private currentKeyGroup(): number {
    const keyGroup = this.backend.getCurrentKeyGroup();
    if (keyGroup < 0) throw new RiffleError("STATE_INVALID_ARGUMENT", "a timer belongs to a key: set one only while a keyed record (or timer) is processed");
    return keyGroup;
  }

  private scheduleWakeUp(time: number): void {
    this.cancelWakeUp?.();
    this.wakeUpAt = time;
    this.cancelWakeUp = this.processingTime.registerTimer(time, (now) => this.onProcessingTime(now));
  }

  private onProcessingTime(now: number): void {
    this.wakeUpAt = Number.POSITIVE_INFINITY;
    this.cancelWakeUp = undefined;
    for (let t = this.processingTimers.peek(); t !== undefined && t.timestamp <= now; t = this.processingTimers.peek()) {
      this.processingTimers.poll();
      this.backend.setCurrentKey(t.key);
      this.backend.setCurrentNamespace(t.namespace);
      this.target.onProcessingTime(t);
    }
    const next = this.processingTimers.peek();
    if (next && next.timestamp < this.wakeUpAt) this.scheduleWakeUp(next.timestamp);
  }
}

function checkTime(time: number): number {
  if (typeof time !== "number" || Number.isNaN(time)) throw new RiffleError("STATE_INVALID_ARGUMENT", `a timer needs a numeric timestamp, got ${String(time)}`);
  return time;
}
