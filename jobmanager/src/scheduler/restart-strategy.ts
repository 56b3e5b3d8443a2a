import { RiffleError, type JobGraph, type RestartStrategy, type RiffleConfig } from "@riffle/shared";

/** The cluster's exponential backoff (`restart-strategy.exponential-backoff.*`): the default of checkpointed jobs. */
export interface ExponentialBackoffDefaults {
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  resetAfterMs: number;
}

export function restartDefaultsFromConfig(config: RiffleConfig): ExponentialBackoffDefaults {
  return {
    initialDelayMs: config["restart-strategy.exponential-backoff.initial-delay"],
    maxDelayMs: config["restart-strategy.exponential-backoff.max-delay"],
    multiplier: config["restart-strategy.exponential-backoff.multiplier"],
    resetAfterMs: config["restart-strategy.exponential-backoff.reset-after"],
  };
}

/**
 * The job's strategy: its own, else exponential backoff when it takes checkpoints (it has state to
 * come back to) and none otherwise (a failure fails it, as before restarts existed). Values out of
 * range fail with JOB_INVALID_GRAPH.
 */
export function resolveRestartStrategy(graph: JobGraph, defaults: ExponentialBackoffDefaults): RestartStrategy {
  const s: RestartStrategy = graph.restartStrategy ?? (graph.checkpointing ? { type: "exponential-backoff", ...defaults } : { type: "none" });
  switch (s.type) {
    case "none":
      break;
    case "fixed-delay":
      check("fixed-delay attempts", s.attempts, 0);
      check("fixed-delay delay", s.delayMs, 0);
      break;
    case "exponential-backoff":
      check("exponential-backoff initial delay", s.initialDelayMs, 0);
      check("exponential-backoff max delay", s.maxDelayMs, s.initialDelayMs);
      check("exponential-backoff reset-after", s.resetAfterMs, 0);
      if (!(s.multiplier >= 1)) throw new RiffleError("JOB_INVALID_GRAPH", `exponential-backoff multiplier must be at least 1, got ${s.multiplier}`);
      break;
    case "failure-rate":
      check("failure-rate max failures", s.maxFailures, 0);
      check("failure-rate interval", s.intervalMs, 1);
      check("failure-rate delay", s.delayMs, 0);
      break;
    default:
      throw new RiffleError("JOB_INVALID_GRAPH", `unknown restart strategy ${JSON.stringify((s as { type?: unknown }).type)}`);
  }
  return s;
}

function check(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RiffleError("JOB_INVALID_GRAPH", `${what} must be an integer of at least ${min}, got ${value}`);
}

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; why: string | null };

/**
 * Flink's RestartBackoffTimeStrategy: told of each failure (with the time it happened), it says
 * whether the job restarts and after how long.
 */
export interface RestartBackoffStrategy {
  onFailure(now: number): RestartDecision;
}

export function createRestartBackoffStrategy(strategy: RestartStrategy): RestartBackoffStrategy {
  switch (strategy.type) {
    case "none":
      // No reason added: the job fails with its failure's own message, as before restarts existed.
      return { onFailure: () => ({ restart: false, why: null }) };
    case "fixed-delay":
      return new FixedDelay(strategy.attempts, strategy.delayMs);
    case "exponential-backoff":
      return new ExponentialBackoff(strategy.initialDelayMs, strategy.maxDelayMs, strategy.multiplier, strategy.resetAfterMs);
    case "failure-rate":
      return new FailureRate(strategy.maxFailures, strategy.intervalMs, strategy.delayMs);
  }
}

/** At most `attempts` restarts in the job's life, each `delayMs` after the tasks stopped. */
class FixedDelay implements RestartBackoffStrategy {
  private used = 0;

  constructor(
    private readonly attempts: number,
    private readonly delayMs: number,
  ) {}

  onFailure(): RestartDecision {
    if (this.used >= this.attempts) {
      return { restart: false, why: `the fixed-delay restart strategy allows ${this.attempts} restart${this.attempts === 1 ? "" : "s"} and all were used` };
    }
    this.used++;
    return { restart: true, delayMs: this.delayMs };
  }
}

/**
 * Always restarts; the delay starts at `initial` and is multiplied after each failure up to `max`,
 * and goes back to `initial` when the previous failure is at least `resetAfter` ago.
 */
class ExponentialBackoff implements RestartBackoffStrategy {
  private current: number | undefined;
  private lastFailureAt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly multiplier: number,
    private readonly resetAfterMs: number,
  ) {}

  onFailure(now: number): RestartDecision {
    if (this.current === undefined || now - this.lastFailureAt >= this.resetAfterMs) this.current = this.initialMs;
    else this.current = Math.min(Math.round(this.current * this.multiplier), this.maxMs);
    this.lastFailureAt = now;
    return { restart: true, delayMs: this.current };
  }
}

/** Restarts after `delayMs` unless more than `maxFailures` failures happened within the last `intervalMs`. */
class FailureRate implements RestartBackoffStrategy {
  private readonly failures: number[] = [];

  constructor(
    private readonly maxFailures: number,
    private readonly intervalMs: number,
    private readonly delayMs: number,
  ) {}

  onFailure(now: number): RestartDecision {
    this.failures.push(now);
    while (this.failures.length > 0 && this.failures[0]! <= now - this.intervalMs) this.failures.shift();
    if (this.failures.length > this.maxFailures) {
      return {
        restart: false,
        why: `${this.failures.length} failures within ${this.intervalMs} ms, more than the ${this.maxFailures} the failure-rate restart strategy allows`,
      };
    }
    return { restart: true, delayMs: this.delayMs };
  }
}
