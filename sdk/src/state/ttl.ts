import { RiffleError } from "@riffle/shared";

/**
 * When a value's time-to-live restarts: on every write (`OnCreateAndWrite`, Flink's default), or on
 * every read as well (`OnReadAndWrite`, for "expire when unused").
 */
export type TtlUpdateType = "OnCreateAndWrite" | "OnReadAndWrite";

/** Time-to-live of a state's values. Expired values read as absent and are removed when read. */
export interface StateTtlConfig {
  /** How long a value lives after its last update (or read, with `OnReadAndWrite`), in milliseconds. */
  ttlMs: number;
  /** Default `"OnCreateAndWrite"`. */
  updateType?: TtlUpdateType;
}

/** A validated {@link StateTtlConfig}. */
export interface ResolvedTtl {
  readonly ttlMs: number;
  readonly updateType: TtlUpdateType;
}

export function resolveTtl(stateName: string, config: StateTtlConfig): ResolvedTtl {
  const ttlMs = config?.ttlMs;
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RiffleError("STATE_INVALID_ARGUMENT", `state '${stateName}': ttlMs must be a positive number of milliseconds, got ${String(ttlMs)}`);
  }
  const updateType = config.updateType ?? "OnCreateAndWrite";
  if (updateType !== "OnCreateAndWrite" && updateType !== "OnReadAndWrite") {
    throw new RiffleError(
      "STATE_INVALID_ARGUMENT",
      `state '${stateName}': updateType must be "OnCreateAndWrite" or "OnReadAndWrite", got ${String(updateType)}`,
    );
  }
  return { ttlMs, updateType };
}
