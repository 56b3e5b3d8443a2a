import { join } from "node:path";
import {
  RiffleError,
  keyGroupRangeForSubtask,
  type JobRuntimeConfig,
  type JobVertex,
  type OperatorSpec,
  type OperatorSubtaskState,
  type StateBackendName,
  type TaskDeploymentDescriptor,
  type TaskRestore,
} from "@riffle/shared";
import type { RestoredCheckpoint } from "@riffle/sdk";
import type { OperatorStateContext } from "@riffle/sdk/internal";
import { createKeyedStateBackend, OperatorStateBackend, type KeyedStateBackend } from "../state/index.js";
import type { TaskStateCapture, TaskStateManager } from "./task-state.js";

interface OperatorStates {
  spec: OperatorSpec;
  keyed: KeyedStateBackend | undefined;
  operator: OperatorStateBackend;
}

const KEYED_KINDS = new Set(["keyedReduce", "keyedAggregate", "keyedProcess"]);

/** The directory of one operator's files inside a checkpoint: operators of a chain never collide. */
function operatorDir(uid: string): string {
  return `op-${uid.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
}

/**
 * The state of a task: a keyed backend (memory or LevelDB) for each keyed operator, and operator
 * list state for each operator, created fresh or restored from the checkpoint in the deployment.
 * A checkpoint writes each operator's files into its own directory of the checkpoint.
 */
export class DefaultTaskStateManager implements TaskStateManager {
  private constructor(
    private readonly tdd: TaskDeploymentDescriptor,
    private readonly operators: OperatorStates[],
    private readonly restore: TaskRestore | undefined,
    private readonly history: NonNullable<JobRuntimeConfig["checkpointHistory"]> | undefined,
  ) {}

  static async create(options: {
    tdd: TaskDeploymentDescriptor;
    vertex: JobVertex;
    backend: StateBackendName;
    workDir: string;
  }): Promise<DefaultTaskStateManager> {
    const { tdd, vertex, backend, workDir } = options;
    const restore = tdd.restoreJson ? (JSON.parse(tdd.restoreJson) as TaskRestore) : undefined;
    const keyGroupRange = keyGroupRangeForSubtask(tdd.subtaskIndex, tdd.parallelism, tdd.maxParallelism);
    const operators: OperatorStates[] = [];
    try {
      for (const spec of vertex.operators) {
        const keyed =
          spec.keyed === true || KEYED_KINDS.has(spec.kind)
            ? await createKeyedStateBackend(
                backend === "leveldb"
                  ? { type: "leveldb", directory: join(workDir, operatorDir(spec.uid)), maxParallelism: tdd.maxParallelism, keyGroupRange }
                  : { type: "memory", maxParallelism: tdd.maxParallelism, keyGroupRange },
              )
            : undefined;
        const operator = new OperatorStateBackend({ subtaskIndex: tdd.subtaskIndex, parallelism: tdd.parallelism });
        operators.push({ spec, keyed, operator });
        const saved = restore?.operators.find((o) => o.uid === spec.uid);
        if (restore && saved) {
          if (keyed) await keyed.restore(restore.baseDir, saved.keyed);
          await operator.restore(restore.baseDir, saved.operator);
        }
      }
    } catch (err) {
      for (const o of operators) await o.keyed?.dispose().catch(() => {});
      throw err;
    }
    const config = tdd.jobConfigJson ? (JSON.parse(tdd.jobConfigJson) as JobRuntimeConfig) : undefined;
    return new DefaultTaskStateManager(tdd, operators, restore, config?.checkpointHistory);
  }

  stateFor(spec: OperatorSpec): OperatorStateContext {
    const o = this.operators.find((x) => x.spec === spec || x.spec.uid === spec.uid);
    if (!o) throw new RiffleError("INTERNAL", `no state was created for operator ${spec.uid}`);
    const restore = this.restore;
    const history = this.history;
    let restoredFrom: RestoredCheckpoint | undefined;
    if (restore) {
      const previous = restore.operators.find((x) => x.uid === spec.uid)?.oldParallelism;
      restoredFrom = {
        checkpointId: restore.checkpointId,
        // A JobManager that does not say how much of the job's history is retained: keep all of it.
        retainedUpTo: restore.retainedUpTo ?? Number.MAX_SAFE_INTEGER,
        ...(history ? { nextCheckpointId: history.nextCheckpointId } : {}),
        ...(previous !== undefined ? { previousParallelism: previous } : {}),
      };
    }
    return {
      keyed: o.keyed,
      operator: o.operator,
      isRestored: restore !== undefined,
      ...(restoredFrom ? { restoredFrom } : {}),
      ...(history ? { history } : {}),
    };
  }

  capture(_checkpointId: number): TaskStateCapture {
    const parts = this.operators.map((o) => ({ uid: o.spec.uid, keyed: o.keyed?.snapshot(), operator: o.operator.snapshot() }));
    return {
      write: async (dir) => {
        const states: OperatorSubtaskState[] = [];
        let size = 0;
        let next = 0;
        try {
          for (; next < parts.length; next++) {
            const p = parts[next]!;
            const sub = operatorDir(p.uid);
            const keyed = p.keyed ? await p.keyed.write(join(dir, sub)) : undefined;
            const operator = await p.operator.write(join(dir, sub));
            size += (keyed?.size ?? 0) + operator.size;
            states.push({
              uid: p.uid,
              keyed: keyed ? [{ ...keyed, path: `${sub}/${keyed.path}` }] : [],
              operator: [{ ...operator, path: `${sub}/${operator.path}` }],
            });
          }
        } catch (err) {
          // Captures not written yet still hold what they captured (a LevelDB snapshot): release them.
          for (const p of parts.slice(next + 1)) {
            p.keyed?.discard();
            p.operator.discard();
          }
          throw err;
        }
        return { snapshot: { vertexId: this.tdd.vertexId, subtask: this.tdd.subtaskIndex, operators: states }, size };
      },
      discard: () => {
        for (const p of parts) {
          p.keyed?.discard();
          p.operator.discard();
        }
      },
    };
  }

  async dispose(): Promise<void> {
    for (const o of this.operators) await o.keyed?.dispose();
  }
}
