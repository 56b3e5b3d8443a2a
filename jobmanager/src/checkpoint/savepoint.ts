import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { RiffleError, type CheckpointMetadata, type JobGraph } from "@riffle/shared";
import { z } from "zod";
import type { CompletedCheckpoint } from "./checkpoint-coordinator.js";
import { METADATA_FILE } from "./checkpoint-storage.js";
import { keyedHandle, operatorHandle } from "./task-state.js";

/**
 * Savepoints on the JobManager's side: where they are written, and reading one back to start a job
 * from it. A savepoint is a checkpoint directory like any other (its `_metadata` plus the state
 * files it names, every path relative to the directory), so a retained `chk-<n>` works as well.
 *
 *   <target>/savepoint-<first 6 of the job id>-<checkpoint id>-<trigger time, base 36>/_metadata
 */

/** The directory name of a savepoint: unique per job and checkpoint id, readable, and free of randomness. */
export function savepointDirName(jobId: string, checkpointId: number, timestamp: number): string {
  return `savepoint-${jobId.slice(0, 6)}-${checkpointId}-${timestamp.toString(36)}`;
}

/** Missing state files named at most in one message; the rest are counted. */
const MISSING_SHOWN = 3;

const operatorStateSchema = z.looseObject({
  uid: z.string().min(1),
  parallelism: z.number().int().min(1),
  maxParallelism: z.number().int().min(1),
  subtasks: z.array(z.looseObject({ keyed: z.array(keyedHandle), operator: z.array(operatorHandle) })),
});

const metadataSchema = z.looseObject({
  version: z.literal(1),
  jobId: z.string(),
  jobName: z.string(),
  checkpointId: z.number().int().min(1),
  timestamp: z.number(),
  isSavepoint: z.boolean(),
  maxParallelism: z.number().int().min(1).max(32768),
  operators: z.array(operatorStateSchema),
});

/**
 * Reads the savepoint at `path` (its directory, or its `_metadata` file; relative paths resolve
 * against this process's working directory) and checks that it is whole: readable JSON of the
 * right shape, and every state file it names present. Throws SAVEPOINT_INVALID naming the path and
 * what is wrong.
 */
export function readSavepoint(path: string): CompletedCheckpoint {
  const given = resolve(path);
  let dir = given;
  if (!existsSync(given)) throw invalid(`savepoint ${given} does not exist`);
  if (statSync(given).isFile()) {
    if (basename(given) !== METADATA_FILE) throw invalid(`${given} is a file, not a savepoint directory (or its ${METADATA_FILE} file)`);
    dir = dirname(given);
  }
  const metadataPath = join(dir, METADATA_FILE);
  if (!existsSync(metadataPath)) {
    throw invalid(`${dir} is not a savepoint: it has no ${METADATA_FILE} file (a savepoint directory holds ${METADATA_FILE} and the state files it names)`);
  }
  let text: string;
  try {
    text = readFileSync(metadataPath, "utf8");
  } catch (err) {
    throw invalid(`cannot read ${metadataPath}: ${(err as Error).message}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(`${metadataPath} is corrupt: it is not JSON (${(err as Error).message})`, err);
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw invalid(`${metadataPath} is corrupt: it is not savepoint metadata (${issues.join("; ")})`);
  }
  const metadata = parsed.data as unknown as CheckpointMetadata;
  for (const op of metadata.operators) {
    if (op.subtasks.length !== op.parallelism) {
      throw invalid(`${metadataPath} is corrupt: operator ${op.uid} has parallelism ${op.parallelism} but ${op.subtasks.length} subtask entries`);
    }
  }
  const missing = statePaths(metadata).filter((p) => !existsSync(join(dir, p)));
  if (missing.length > 0) {
    const shown = missing.slice(0, MISSING_SHOWN).join(", ") + (missing.length > MISSING_SHOWN ? ` and ${missing.length - MISSING_SHOWN} more` : "");
    throw invalid(
      `savepoint ${dir} is incomplete: ${missing.length} state file(s) its ${METADATA_FILE} names are missing (${shown}); copy the whole directory`,
    );
  }
  return { id: metadata.checkpointId, path: dir, timestamp: metadata.timestamp, metadata };
}

export interface CompatibilityResult {
  /** Uids with state in the savepoint that the job has no operator for: dropped (allowNonRestoredState). */
  skipped: string[];
}

/**
 * Whether a job can start from a savepoint (Flink's checks at restore): the max parallelism must be
 * the one the savepoint was taken with, since keyed state is split into that many key groups; state
 * is matched to operators by uid, and state no operator claims is refused unless
 * `allowNonRestoredState`. Operators without state in the savepoint simply start empty.
 * Throws MAX_PARALLELISM_CHANGED or UNMATCHED_STATE.
 */
export function checkSavepointCompatibility(savepoint: CompletedCheckpoint, graph: JobGraph, allowNonRestoredState: boolean): CompatibilityResult {
  const { metadata, path } = savepoint;
  if (metadata.maxParallelism !== graph.maxParallelism) {
    throw new RiffleError(
      "MAX_PARALLELISM_CHANGED",
      `the savepoint ${path} was taken with max parallelism ${metadata.maxParallelism}; the job now has ${graph.maxParallelism}; max parallelism can never change (keyed state is split into that many key groups): set env.setMaxParallelism(${metadata.maxParallelism}) in the job`,
    );
  }
  const uids = new Set(graph.vertices.flatMap((v) => v.operators.map((o) => o.uid)));
  const unmatched = metadata.operators.map((o) => o.uid).filter((uid) => !uids.has(uid));
  if (unmatched.length > 0 && !allowNonRestoredState) {
    throw new RiffleError(
      "UNMATCHED_STATE",
      `the savepoint ${path} holds state of operators the job does not have: ${unmatched.join(", ")} (state is matched to operators by uid; the job's uids are ${[...uids].join(", ")}). Give those operators their old uid with .uid(...), or allow dropping that state (allowNonRestoredState, riffle run --allow-non-restored-state)`,
    );
  }
  return { skipped: unmatched };
}

function statePaths(metadata: CheckpointMetadata): string[] {
  const paths = new Set<string>();
  for (const op of metadata.operators) {
    for (const s of op.subtasks) {
      for (const h of s.keyed) paths.add(h.path);
      for (const h of s.operator) paths.add(h.path);
    }
  }
  return [...paths];
}

function invalid(message: string, cause?: unknown): RiffleError {
  return new RiffleError("SAVEPOINT_INVALID", message, cause === undefined ? undefined : { cause });
}
