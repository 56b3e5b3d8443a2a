import type { JobGraph } from "@riffle/shared";
import type { SlotRef } from "../registry/index.js";
import { executionIdOf, isTerminalExecutionState, type Execution } from "./execution.js";

/**
 * The executions of one attempt of a job and the slots they run in. Slot sharing as in Flink: the
 * attempt holds as many slots as the job's widest vertex, and slot i hosts subtask i of every
 * vertex that has one. A slot goes back to the pool once every execution in it has ended.
 */
export class ExecutionGraph {
  private readonly executions = new Map<string, Execution>();
  private readonly released = new Set<number>();

  constructor(
    private readonly jobId: string,
    graph: JobGraph,
    readonly attempt: number,
    private readonly slots: readonly SlotRef[],
    /** When the executions are created (their SCHEDULED time). */
    createdAt: number,
  ) {
    for (const vertex of graph.vertices) {
      for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
        const executionId = executionIdOf(jobId, vertex.id, subtask, attempt);
        this.executions.set(executionId, {
          executionId,
          vertexId: vertex.id,
          vertexName: vertex.name,
          subtask,
          parallelism: vertex.parallelism,
          attempt,
          slot: slots[subtask]!,
          state: "SCHEDULED",
          stateTimestamps: { SCHEDULED: createdAt },
        });
      }
    }
  }

  /** Executions in vertex order, subtasks ascending. */
  list(): Execution[] {
    return [...this.executions.values()];
  }

  get(executionId: string): Execution | undefined {
    return this.executions.get(executionId);
  }

  of(vertexId: string, subtask: number): Execution {
    const e = this.executions.get(executionIdOf(this.jobId, vertexId, subtask, this.attempt));
    if (!e) throw new Error(`no execution of ${vertexId}/${subtask} in attempt ${this.attempt}`);
    return e;
  }

  allEnded(): boolean {
    return this.list().every((e) => isTerminalExecutionState(e.state));
  }

  allFinished(): boolean {
    return this.executions.size > 0 && this.list().every((e) => e.state === "FINISHED");
  }

  /** Slot `index` if every execution in it has ended and it was not handed back yet; it counts as handed back. */
  takeSlotIfEnded(index: number): SlotRef | undefined {
    const slot = this.slots[index];
    if (!slot || this.released.has(index)) return undefined;
    for (const e of this.executions.values()) {
      if (e.subtask === index && !isTerminalExecutionState(e.state)) return undefined;
    }
    this.released.add(index);
    return slot;
  }

  /** Every slot whose executions have all ended and that was not handed back yet. */
  takeEndedSlots(): SlotRef[] {
    const slots: SlotRef[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.takeSlotIfEnded(i);
      if (slot) slots.push(slot);
    }
    return slots;
  }
}
