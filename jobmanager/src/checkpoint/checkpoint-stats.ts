import type { CheckpointFailureReason } from "./checkpoint-failure-reason.js";
import type { PendingCheckpoint } from "./pending-checkpoint.js";

/** Checkpoints kept in the history, newest first (Flink's web.checkpoints.history default is 10; ours 20). */
export const HISTORY_SIZE = 20;

export type CheckpointStatsStatus = "IN_PROGRESS" | "COMPLETED" | "FAILED";

/** One checkpoint as the REST API shows it. Durations are the longest of any task. */
export interface CheckpointStatsEntry {
  id: number;
  status: CheckpointStatsStatus;
  isSavepoint: boolean;
  triggerTimestamp: number;
  /** -1 before the first acknowledgement. */
  latestAckTimestamp: number;
  stateSize: number;
  endToEndDurationMs: number;
  alignmentDurationMs: number;
  syncDurationMs: number;
  asyncDurationMs: number;
  numSubtasks: number;
  numAcknowledged: number;
  /** Directory of a completed checkpoint. */
  externalPath: string | null;
  failureReason: CheckpointFailureReason | null;
  failureMessage: string | null;
  failureTimestamp: number | null;
}

export interface MinAvgMax {
  min: number;
  avg: number;
  max: number;
}

export interface RestoredCheckpoint {
  id: number;
  restoreTimestamp: number;
  externalPath: string;
}

export interface CheckpointStatsSnapshot {
  counts: { restored: number; total: number; inProgress: number; completed: number; failed: number };
  summary: { stateSize: MinAvgMax; endToEndDuration: MinAvgMax };
  latest: {
    /** The latest completed checkpoint or savepoint. */
    completed: CheckpointStatsEntry | null;
    savepoint: CheckpointStatsEntry | null;
    failed: CheckpointStatsEntry | null;
    restored: RestoredCheckpoint | null;
  };
  history: CheckpointStatsEntry[];
}

class Aggregate {
  private min = Number.POSITIVE_INFINITY;
  private max = 0;
  private sum = 0;
  private count = 0;

  add(value: number): void {
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);
    this.sum += value;
    this.count++;
  }

  view(): MinAvgMax {
    return this.count === 0 ? { min: 0, avg: 0, max: 0 } : { min: this.min, avg: Math.round(this.sum / this.count), max: this.max };
  }
}

/** A job's checkpoint statistics (Flink's CheckpointStatsTracker): counts, summaries and a bounded history. */
export class CheckpointStatsTracker {
  private readonly history: Array<{ pending: PendingCheckpoint } | { entry: CheckpointStatsEntry }> = [];
  private total = 0;
  private completed = 0;
  private failed = 0;
  private restored = 0;
  private readonly stateSize = new Aggregate();
  private readonly duration = new Aggregate();
  private latestCompleted: CheckpointStatsEntry | null = null;
  private latestSavepoint: CheckpointStatsEntry | null = null;
  private latestFailed: CheckpointStatsEntry | null = null;
  private latestRestored: RestoredCheckpoint | null = null;

  reportPending(pending: PendingCheckpoint): void {
    this.total++;
    this.history.unshift({ pending });
    if (this.history.length > HISTORY_SIZE) this.history.pop();
  }

  reportCompleted(pending: PendingCheckpoint, externalPath: string): void {
    const entry = this.freeze(pending, externalPath);
    this.completed++;
    this.stateSize.add(entry.stateSize);
    this.duration.add(entry.endToEndDurationMs);
    this.latestCompleted = entry;
    if (entry.isSavepoint) this.latestSavepoint = entry;
  }

  reportFailed(pending: PendingCheckpoint): void {
    this.failed++;
    this.latestFailed = this.freeze(pending, null);
  }

  reportRestored(id: number, externalPath: string, at: number): void {
    this.restored++;
    this.latestRestored = { id, restoreTimestamp: at, externalPath };
  }

  get numberOfCompleted(): number {
    return this.completed;
  }

  get numberOfFailed(): number {
    return this.failed;
  }

  get lastCompleted(): CheckpointStatsEntry | null {
    return this.latestCompleted;
  }

  snapshot(): CheckpointStatsSnapshot {
    const history = this.history.map((h) => ("entry" in h ? h.entry : entryOf(h.pending, null)));
    return {
      counts: {
        restored: this.restored,
        total: this.total,
        inProgress: history.filter((h) => h.status === "IN_PROGRESS").length,
        completed: this.completed,
        failed: this.failed,
      },
      summary: { stateSize: this.stateSize.view(), endToEndDuration: this.duration.view() },
      latest: { completed: this.latestCompleted, savepoint: this.latestSavepoint, failed: this.latestFailed, restored: this.latestRestored },
      history,
    };
  }

  /** Fixes an ended checkpoint's entry, so the history no longer holds its acknowledged states. */
  private freeze(pending: PendingCheckpoint, externalPath: string | null): CheckpointStatsEntry {
    const entry = entryOf(pending, externalPath);
    const i = this.history.findIndex((h) => "pending" in h && h.pending === pending);
    if (i >= 0) this.history[i] = { entry };
    return entry;
  }
}

/** An in-progress checkpoint's end-to-end duration runs to its latest acknowledgement, as in Flink. */
function entryOf(p: PendingCheckpoint, externalPath: string | null): CheckpointStatsEntry {
  let latestAck = -1;
  let stateSize = 0;
  let alignment = 0;
  let sync = 0;
  let async = 0;
  for (const ack of p.acknowledged.values()) {
    latestAck = Math.max(latestAck, ack.at);
    stateSize += ack.stateSize;
    alignment = Math.max(alignment, ack.alignmentDurationMs);
    sync = Math.max(sync, ack.syncDurationMs);
    async = Math.max(async, ack.asyncDurationMs);
  }
  for (const c of p.carried) for (const op of c.snapshot.operators) for (const h of [...op.keyed, ...op.operator]) stateSize += h.size;
  const status: CheckpointStatsStatus = p.status === "PENDING" ? "IN_PROGRESS" : p.status;
  const end = p.status === "PENDING" ? Math.max(latestAck, p.timestamp) : (p.endedAt ?? p.timestamp);
  return {
    id: p.id,
    status,
    isSavepoint: p.isSavepoint,
    triggerTimestamp: p.timestamp,
    latestAckTimestamp: latestAck,
    stateSize,
    endToEndDurationMs: Math.max(0, end - p.timestamp),
    alignmentDurationMs: alignment,
    syncDurationMs: sync,
    asyncDurationMs: async,
    numSubtasks: p.numSubtasks,
    numAcknowledged: p.numAcknowledged,
    externalPath: p.status === "COMPLETED" ? externalPath : null,
    failureReason: p.failure?.reason ?? null,
    failureMessage: p.failure?.message ?? null,
    failureTimestamp: p.status === "FAILED" ? (p.endedAt ?? null) : null,
  };
}
