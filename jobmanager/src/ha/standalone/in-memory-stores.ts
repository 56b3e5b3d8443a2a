import { RiffleError } from "@riffle/shared";
import { checkCount, retainNewest, type CheckpointIdCounter, type CheckpointPointer, type CompletedCheckpointStore } from "../checkpoint-stores.js";
import { requireLeadership } from "../fencing.js";
import type { JobResult, JobResultEntry, JobResultStore } from "../job-result-store.js";
import type { LeaderSession } from "../leader-election.js";

/**
 * Stores of a JobManager without high availability (Flink's standalone and embedded stores): they
 * live as long as the process, which is as long as its jobs live (its jobs are not recovered
 * after a restart). Writes check the session like the etcd stores do, so both behave alike.
 */

/** The state one JobManager keeps across its leader sessions (a `none` JobManager has exactly one). */
export class InMemoryHaState {
  readonly counters = new Map<string, number>();
  readonly checkpoints = new Map<string, CheckpointPointer[]>();
  readonly results = new Map<string, JobResultEntry>();
}

export class InMemoryCheckpointIdCounter implements CheckpointIdCounter {
  constructor(
    private readonly state: InMemoryHaState,
    private readonly jobId: string,
    private readonly session: LeaderSession,
  ) {}

  async get(): Promise<number> {
    return this.state.counters.get(this.jobId) ?? 1;
  }

  async getAndIncrement(): Promise<number> {
    requireLeadership(this.session, `take a checkpoint id of job ${this.jobId}`);
    const id = this.state.counters.get(this.jobId) ?? 1;
    this.state.counters.set(this.jobId, id + 1);
    return id;
  }

  async setCount(next: number): Promise<void> {
    checkCount(next);
    requireLeadership(this.session, `set the checkpoint id counter of job ${this.jobId}`);
    this.state.counters.set(this.jobId, next);
  }

  async discard(): Promise<void> {
    requireLeadership(this.session, `discard the checkpoint id counter of job ${this.jobId}`);
    this.state.counters.delete(this.jobId);
  }
}

export class InMemoryCompletedCheckpointStore implements CompletedCheckpointStore {
  constructor(
    private readonly state: InMemoryHaState,
    private readonly jobId: string,
    private readonly session: LeaderSession,
  ) {}

  async add(pointer: CheckpointPointer, maxRetained: number): Promise<CheckpointPointer[]> {
    requireLeadership(this.session, `record checkpoint ${pointer.id} of job ${this.jobId}`);
    const { kept, dropped } = retainNewest(this.state.checkpoints.get(this.jobId) ?? [], { ...pointer }, maxRetained);
    this.state.checkpoints.set(this.jobId, kept);
    return dropped;
  }

  async getAll(): Promise<CheckpointPointer[]> {
    return (this.state.checkpoints.get(this.jobId) ?? []).map((p) => ({ ...p }));
  }

  async getLatest(): Promise<CheckpointPointer | undefined> {
    const all = this.state.checkpoints.get(this.jobId) ?? [];
    const latest = all[all.length - 1];
    return latest ? { ...latest } : undefined;
  }

  async discard(): Promise<void> {
    requireLeadership(this.session, `discard the checkpoint pointers of job ${this.jobId}`);
    this.state.checkpoints.delete(this.jobId);
  }
}

export class InMemoryJobResultStore implements JobResultStore {
  constructor(
    private readonly state: InMemoryHaState,
    private readonly session: LeaderSession,
  ) {}

  async createDirtyResult(result: JobResult): Promise<void> {
    requireLeadership(this.session, `record the result of job ${result.jobId}`);
    this.state.results.set(result.jobId, { ...result, clean: false });
  }

  async markResultAsClean(jobId: string): Promise<void> {
    requireLeadership(this.session, `mark the result of job ${jobId} clean`);
    const entry = this.state.results.get(jobId);
    if (!entry) throw new RiffleError("HA_STORAGE_FAILED", `job ${jobId} has no result to mark clean`);
    entry.clean = true;
  }

  async get(jobId: string): Promise<JobResultEntry | undefined> {
    const entry = this.state.results.get(jobId);
    return entry ? { ...entry } : undefined;
  }

  async hasJobResultEntry(jobId: string): Promise<boolean> {
    return this.state.results.has(jobId);
  }

  async getDirtyResults(): Promise<JobResult[]> {
    return [...this.state.results.values()].filter((e) => !e.clean).map(({ clean: _, ...result }) => result);
  }

  async list(): Promise<JobResultEntry[]> {
    return [...this.state.results.values()].map((e) => ({ ...e }));
  }
}
