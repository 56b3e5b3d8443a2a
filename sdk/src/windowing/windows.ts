import { RiffleError, parseDuration } from "@riffle/shared";
import { MAX_WATERMARK } from "../operators/operator.js";

/**
 * A window: a finite group of a key's elements that a window function evaluates together. Every window
 * has a largest timestamp it covers; results of the window carry it as their timestamp.
 */
export abstract class Window {
  /** The largest timestamp that still belongs to this window. */
  abstract maxTimestamp(): number;
  abstract equals(other: Window): boolean;
}

/**
 * A window of time `[start, end)` (Flink's TimeWindow): it holds elements with `start <= timestamp <
 * end`, and fires (under the event-time trigger) once the watermark reaches `end - 1`.
 */
export class TimeWindow extends Window {
  constructor(
    readonly start: number,
    readonly end: number,
  ) {
    super();
  }

  maxTimestamp(): number {
    return this.end - 1;
  }

  /** Whether the windows overlap or touch (`[0, 10)` and `[10, 20)` do: sessions merge them). */
  intersects(other: TimeWindow): boolean {
    return this.start <= other.end && this.end >= other.start;
  }

  /** The smallest window covering both. */
  cover(other: TimeWindow): TimeWindow {
    return new TimeWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }

  equals(other: Window): boolean {
    return other instanceof TimeWindow && other.start === this.start && other.end === this.end;
  }

  override toString(): string {
    return `TimeWindow{start=${this.start}, end=${this.end}}`;
  }

  /**
   * The start of the window of `size` (shifted by `offset`) that holds `timestamp`: the largest
   * `start <= timestamp` with `start ≡ offset (mod size)`. Right for negative timestamps too.
   */
  static getWindowStartWithOffset(timestamp: number, offset: number, size: number): number {
    const remainder = (timestamp - offset) % size;
    return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
  }

  /**
   * Merges overlapping windows (Flink's TimeWindow.mergeWindows): sorts them by start and calls
   * `merge(group, cover)` for every group of two or more windows that intersect in a chain.
   */
  static mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    const sorted = [...windows].sort((a, b) => a.start - b.start);
    let group: TimeWindow[] = [];
    let cover: TimeWindow | undefined;
    for (const w of sorted) {
      if (cover === undefined) {
        cover = w;
        group = [w];
      } else if (cover.intersects(w)) {
        cover = cover.cover(w);
        group.push(w);
      } else {
        if (group.length > 1) merge(group, cover);
        cover = w;
        group = [w];
      }
    }
    if (cover !== undefined && group.length > 1) merge(group, cover);
  }
}

/** The one window of {@link GlobalWindows}: holds every element of a key; fires only by a custom trigger. */
export class GlobalWindow extends Window {
  private static readonly instance = new GlobalWindow();

  private constructor() {
    super();
  }

  static get(): GlobalWindow {
    return GlobalWindow.instance;
  }

  maxTimestamp(): number {
    return MAX_WATERMARK;
  }

  equals(other: Window): boolean {
    return other instanceof GlobalWindow;
  }

  override toString(): string {
    return "GlobalWindow";
  }
}

const GLOBAL_NAMESPACE = "global";

/**
 * The state namespace of a window: its window contents, trigger state and per-window state live
 * there, and its timers carry it. `start|end` for time windows.
 */
export function windowNamespace(window: Window): string {
  if (window instanceof TimeWindow) return `${window.start}|${window.end}`;
  if (window instanceof GlobalWindow) return GLOBAL_NAMESPACE;
  throw new RiffleError("JOB_INVALID_GRAPH", `windows must be TimeWindow or GlobalWindow, got ${String(window)}`);
}

/** The window a namespace (of a timer) stands for; see {@link windowNamespace}. */
export function windowOfNamespace(namespace: string): Window {
  if (namespace === GLOBAL_NAMESPACE) return GlobalWindow.get();
  const bar = namespace.indexOf("|");
  if (bar < 0) throw new RiffleError("INTERNAL", `"${namespace}" is not a window namespace`);
  return new TimeWindow(Number(namespace.slice(0, bar)), Number(namespace.slice(bar + 1)));
}

/** A length of time: milliseconds, or a string such as `500ms`, `10s`, `15m`, `1h`. */
export type Duration = number | string;

/**
 * Durations in milliseconds, for window sizes and lateness (Flink's `Time`):
 * `TumblingEventTimeWindows.of(Time.minutes(15))`.
 */
export const Time = {
  milliseconds: (n: number): number => n,
  seconds: (n: number): number => n * 1000,
  minutes: (n: number): number => n * 60_000,
  hours: (n: number): number => n * 3_600_000,
  days: (n: number): number => n * 86_400_000,
} as const;

/** A duration in ms; `allowNegative` for offsets (`-8h` shifts windows to UTC+8 midnight). */
export function durationMs(value: Duration, what: string, allowNegative = false): number {
  try {
    if (typeof value === "string") {
      const negative = allowNegative && value.trim().startsWith("-");
      const ms = parseDuration(negative ? value.trim().slice(1) : value);
      return negative ? -ms : ms;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`invalid duration ${String(value)}`);
    if (!allowNegative && value < 0) throw new Error(`it must not be negative, got ${value}`);
    return value;
  } catch (err) {
    throw new RiffleError("JOB_INVALID_GRAPH", `${what}: ${(err as Error).message}`, { cause: err });
  }
}
