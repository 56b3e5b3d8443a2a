import { RiffleError } from "@riffle/shared";
import type { OperatorStateMode } from "@riffle/sdk";

/** One operator list state of one subtask. */
export interface OperatorListEntry {
  mode: OperatorStateMode;
  elements: unknown[];
}

/** The operator list states of one subtask, by name. */
export type OperatorStatePartition = Map<string, OperatorListEntry>;

/**
 * Splits `elements` into `parts` contiguous chunks, in order, whose sizes differ by at most one (the
 * first `length % parts` chunks get the extra element), as Flink's round-robin repartitioner does.
 */
export function evenSplit<T>(elements: readonly T[], parts: number): T[][] {
  if (!Number.isInteger(parts) || parts < 1) throw new RiffleError("INTERNAL", `cannot split state into ${parts} parts`);
  const base = Math.floor(elements.length / parts);
  const extra = elements.length % parts;
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push(elements.slice(start, start + size));
    start += size;
  }
  return out;
}

/**
 * The operator list states of the new subtasks, from those of the old ones (`previous[i]` is old
 * subtask i's):
 * - `split` lists: unchanged per subtask when the parallelism is unchanged (a source keeps its own
 *   splits); otherwise all old lists concatenated in subtask order and split evenly (evenSplit).
 * - `union` lists: every new subtask gets all elements of all old subtasks, in subtask order.
 * A name used with both modes is refused.
 */
export function redistributeOperatorState(previous: readonly OperatorStatePartition[], parallelism: number): OperatorStatePartition[] {
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new RiffleError("INTERNAL", `cannot redistribute operator state to parallelism ${parallelism}`);
  const merged = new Map<string, { mode: OperatorStateMode; perSubtask: unknown[][] }>();
  previous.forEach((partition, subtask) => {
    for (const [name, entry] of partition) {
      let m = merged.get(name);
      if (m === undefined) {
        m = { mode: entry.mode, perSubtask: previous.map(() => []) };
        merged.set(name, m);
      } else if (m.mode !== entry.mode) {
        throw new RiffleError("STATE_RESTORE_FAILED", `operator state '${name}' was written as both ${m.mode} and ${entry.mode} list state`);
      }
      m.perSubtask[subtask] = entry.elements;
    }
  });
  const out: OperatorStatePartition[] = Array.from({ length: parallelism }, () => new Map());
  for (const [name, { mode, perSubtask }] of merged) {
    if (mode === "split" && perSubtask.length === parallelism) {
      perSubtask.forEach((elements, i) => out[i]!.set(name, { mode, elements: elements.slice() }));
      continue;
    }
    const all = perSubtask.flat();
    if (mode === "union") {
      for (const partition of out) partition.set(name, { mode, elements: all.slice() });
    } else {
      evenSplit(all, parallelism).forEach((elements, i) => out[i]!.set(name, { mode, elements }));
    }
  }
  return out;
}
