import { RiffleError } from "@riffle/shared";
import type { StateKind } from "@riffle/sdk";

/** A registered keyed state: its small id (part of every LevelDB key and snapshot entry) and what it holds. */
export interface StateMeta {
  readonly id: number;
  readonly name: string;
  readonly kind: StateKind;
  /** Values are stored with a time-to-live stamp, which changes their stored form. */
  readonly ttl: boolean;
}

/** State ids are 16-bit in LevelDB keys. */
export const MAX_STATES = 0x10000;

const STATE_KINDS: ReadonlySet<string> = new Set<StateKind>(["value", "list", "map", "reducing", "aggregating"]);

export function isStateKind(kind: unknown): kind is StateKind {
  return typeof kind === "string" && STATE_KINDS.has(kind);
}

/**
 * A state keeps its kind and its TTL setting for life: values written by one cannot be read as the
 * other (Flink refuses the same changes on restore).
 */
export function checkCompatible(meta: StateMeta, kind: StateKind, ttl: boolean): void {
  if (meta.kind !== kind) {
    throw new RiffleError(
      "STATE_INCOMPATIBLE",
      `state '${meta.name}' is ${article(meta.kind)} ${meta.kind} state; it cannot be used as ${article(kind)} ${kind} state`,
    );
  }
  if (meta.ttl !== ttl) {
    throw new RiffleError(
      "STATE_INCOMPATIBLE",
      `state '${meta.name}' was created ${meta.ttl ? "with" : "without"} a time-to-live; enabling or disabling it on existing state is not supported`,
    );
  }
}

function article(kind: StateKind): string {
  return kind === "aggregating" ? "an" : "a";
}
