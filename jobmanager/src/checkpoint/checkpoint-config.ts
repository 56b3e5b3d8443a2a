import { isAbsolute, join, resolve } from "node:path";
import { RiffleError, type CheckpointSettings, type RiffleConfig } from "@riffle/shared";

/** The cluster's checkpoint defaults, for the fields a job left unset. */
export interface CheckpointDefaults {
  /** `execution.checkpointing.timeout`. */
  timeoutMs: number;
  /** `execution.checkpointing.min-pause`. */
  minPauseMs: number;
  /** `execution.checkpointing.tolerable-failed-checkpoints`. */
  tolerableFailures: number;
  /** `state.checkpoints.num-retained`. */
  retained: number;
  /** `state.checkpoints.dir`, made absolute. */
  dir: string;
  /** `state.savepoints.dir`, made absolute: where savepoints go when the request names no directory. */
  savepointDir: string;
}

/** A job's checkpoint settings with every default applied and every value checked. */
export interface CheckpointConfig {
  /**
   * Time between periodic checkpoints; null when the job takes none. Such a job still has a
   * coordinator: savepoints are triggered through it.
   */
  intervalMs: number | null;
  timeoutMs: number;
  minPauseMs: number;
  tolerableFailures: number;
  retained: number;
  /** Absolute directory of this job's checkpoints: `<state.checkpoints.dir>/<jobId>`. */
  jobDir: string;
}

export function checkpointDefaultsFromConfig(config: RiffleConfig): CheckpointDefaults {
  return {
    timeoutMs: config["execution.checkpointing.timeout"],
    minPauseMs: config["execution.checkpointing.min-pause"],
    tolerableFailures: config["execution.checkpointing.tolerable-failed-checkpoints"],
    retained: config["state.checkpoints.num-retained"],
    dir: resolve(config["state.checkpoints.dir"]),
    savepointDir: resolve(config["state.savepoints.dir"]),
  };
}

/**
 * Applies the defaults to what the job chose (undefined: the job takes no periodic checkpoints);
 * values out of range fail with JOB_INVALID_GRAPH.
 */
export function resolveCheckpointConfig(settings: CheckpointSettings | undefined, defaults: CheckpointDefaults, jobId: string): CheckpointConfig {
  const jobDir = join(isAbsolute(defaults.dir) ? defaults.dir : resolve(defaults.dir), jobId);
  if (settings === undefined) {
    return {
      intervalMs: null,
      timeoutMs: defaults.timeoutMs,
      minPauseMs: defaults.minPauseMs,
      tolerableFailures: defaults.tolerableFailures,
      retained: defaults.retained,
      jobDir,
    };
  }
  const config: CheckpointConfig = {
    intervalMs: settings.intervalMs,
    timeoutMs: settings.timeoutMs ?? defaults.timeoutMs,
    minPauseMs: settings.minPauseMs ?? defaults.minPauseMs,
    tolerableFailures: settings.tolerableFailures ?? defaults.tolerableFailures,
    retained: settings.retained ?? defaults.retained,
    jobDir,
  };
  check("checkpoint interval", settings.intervalMs, 10);
  check("checkpoint timeout", config.timeoutMs, 1);
  check("minimum pause between checkpoints", config.minPauseMs, 0);
  check("tolerable failed checkpoints", config.tolerableFailures, 0);
  check("retained checkpoints", config.retained, 1);
  return config;
}

function check(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RiffleError("JOB_INVALID_GRAPH", `${what} must be an integer of at least ${min}, got ${value}`);
  }
}
