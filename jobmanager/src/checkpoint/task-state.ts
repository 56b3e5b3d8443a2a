import { isAbsolute } from "node:path";
import type { OperatorSubtaskState, TaskStateSnapshot } from "@riffle/shared";
import { z } from "zod";

/**
 * Reading what a task acknowledged. Only what the JobManager relies on is checked (uids, paths,
 * key-group ranges, sizes); every other field of a handle is kept as the task wrote it, for the
 * task that restores it.
 */

export const relativePath = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && !p.split(/[\\/]/).includes(".."), "must be a path inside the checkpoint directory");

export const keyedHandle = z.looseObject({
  path: relativePath,
  keyGroupRange: z.looseObject({ start: z.number().int().min(0), end: z.number().int().min(-1) }),
  size: z.number().min(0),
});

export const operatorHandle = z.looseObject({ path: relativePath, size: z.number().min(0) });

const operatorState = z.looseObject({
  uid: z.string().min(1),
  keyed: z.array(keyedHandle).default([]),
  operator: z.array(operatorHandle).default([]),
});

const snapshotSchema = z.looseObject({ operators: z.array(operatorState) });

/**
 * The TaskStateSnapshot in an acknowledgement's `state_json`; an empty string is a task without
 * state. The vertex and subtask are the acknowledging execution's, whatever the JSON says.
 * Throws an Error saying what is wrong.
 */
export function parseTaskStateSnapshot(stateJson: string, task: { vertexId: string; subtask: number }): TaskStateSnapshot {
  if (stateJson.trim() === "") return { vertexId: task.vertexId, subtask: task.subtask, operators: [] };
  let json: unknown;
  try {
    json = JSON.parse(stateJson);
  } catch (err) {
    throw new Error(`state_json is not JSON: ${(err as Error).message}`);
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "state_json"}: ${i.message}`);
    throw new Error(`state_json is not a TaskStateSnapshot: ${issues.join("; ")}`);
  }
  return { vertexId: task.vertexId, subtask: task.subtask, operators: parsed.data.operators as unknown as OperatorSubtaskState[] };
}

/** Every file a snapshot names, relative to its checkpoint directory. */
export function snapshotPaths(snapshot: TaskStateSnapshot): string[] {
  return snapshot.operators.flatMap((op) => [...op.keyed.map((h) => h.path), ...op.operator.map((h) => h.path)]);
}

/** Bytes of every file a snapshot names. */
export function snapshotSize(snapshot: TaskStateSnapshot): number {
  let size = 0;
  for (const op of snapshot.operators) {
    for (const h of op.keyed) size += h.size;
    for (const h of op.operator) size += h.size;
  }
  return size;
}
