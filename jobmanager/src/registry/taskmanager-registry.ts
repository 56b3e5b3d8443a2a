import { randomUUID } from "node:crypto";
import {
  RiffleError,
  SystemClock,
  parseHostPort,
  type Cancel,
  type Clock,
  type Logger,
  type RegisterTaskManagerRequest,
  type RegisterTaskManagerResponse,
  type TaskMetricsReport,
} from "@riffle/shared";
import { selectSlots } from "./slot-selection.js";
import { RegisteredTaskManager, type HeartbeatSink, type SlotRef } from "./taskmanager.js";

/** What the registry tells the rest of the JobManager. */
export interface TaskManagerListener {
  onTaskManagerRegistered(tm: RegisteredTaskManager): void;
  /** The TaskManager is gone with its slots; `message` says which and why, for failure reasons. */
  onTaskManagerLost(tm: RegisteredTaskManager, message: string): void;
  onTaskReports(tm: RegisteredTaskManager, reports: readonly TaskMetricsReport[]): void;
  /** Executions the JobManager expects to run on the TaskManager, sent with every heartbeat. */
  executionsOn(taskmanagerId: string): string[];
}

const NO_LISTENER: TaskManagerListener = {
  onTaskManagerRegistered: () => {},
  onTaskManagerLost: () => {},
  onTaskReports: () => {},
  executionsOn: () => [],
};

export interface RegistryOptions {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  logger: Logger;
  /** Time and the heartbeat timer; the system's by default. */
  clock?: Clock;
  /**
   * The fencing token of the leadership the registry serves, given to TaskManagers in their
   * registration answer and with every heartbeat: from then on they refuse commands of older leaders.
   * Empty for a registry without a leadership (tests).
   */
  fencingToken?: string;
  /** The leading JobManager's id, in the registration answer. */
  leaderId?: string;
}

/**
 * TaskManagers known to the JobManager, their slots, and heartbeat supervision. A TaskManager is
 * lost when its Heartbeat stream breaks (a killed process shows up this way at once) or when
 * nothing arrived for the heartbeat timeout; one timer per interval checks the timeouts and sends
 * the JobManager's heartbeats.
 */
export class TaskManagerRegistry {
  private readonly taskmanagers = new Map<string, RegisteredTaskManager>();
  private listener: TaskManagerListener = NO_LISTENER;
  private cancelTick: Cancel | undefined;
  private closed = false;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly options: RegistryOptions) {
    this.clock = options.clock ?? SystemClock;
    this.logger = options.logger;
  }

  setListener(listener: TaskManagerListener): void {
    this.listener = listener;
  }

  /** Starts the heartbeat timer: every interval, silent TaskManagers are declared lost and the others get a heartbeat. */
  start(): void {
    if (this.closed || this.cancelTick) return;
    const next = () => {
      this.cancelTick = this.clock.schedule(() => {
        if (this.closed) return;
        this.tick();
        next();
      }, this.options.heartbeatIntervalMs);
    };
    next();
  }

  /**
   * Stops supervising without declaring anyone lost (a closing JobManager, or one that lost its
   * leadership, fails no job), and ends every heartbeat stream: the TaskManagers look for the leader
   * and register again.
   */
  close(): void {
    this.closed = true;
    this.cancelTick?.();
    this.cancelTick = undefined;
    for (const tm of this.taskmanagers.values()) tm.sink?.close();
  }

  register(request: RegisterTaskManagerRequest): RegisterTaskManagerResponse {
    if (this.closed) throw new RiffleError("JOBMANAGER_UNREACHABLE", "the JobManager is shutting down");
    if (!request.taskmanagerId) throw new RiffleError("BAD_REQUEST", "registration without a taskmanager id");
    try {
      parseHostPort(request.address);
    } catch (err) {
      throw new RiffleError("BAD_REQUEST", `TaskManager ${request.taskmanagerId} registered with ${(err as Error).message}`);
    }
    if (!Number.isInteger(request.slots) || request.slots < 1) {
      throw new RiffleError("BAD_REQUEST", `TaskManager ${request.taskmanagerId} offered ${request.slots} slots; it must offer at least 1`);
    }
    const previous = this.taskmanagers.get(request.taskmanagerId);
    if (previous) this.lose(previous, "it registered again (restarted)");
    const tm = new RegisteredTaskManager(request, randomUUID(), this.clock.now());
    this.taskmanagers.set(tm.id, tm);
    this.logger.info({ taskmanagerId: tm.id, address: tm.address, slots: tm.slotsNumber, pid: tm.pid }, "TaskManager registered");
    this.listener.onTaskManagerRegistered(tm);
    return {
      registrationId: tm.registrationId,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
      fencingToken: this.options.fencingToken ?? "",
      leaderId: this.options.leaderId ?? "",
    };
  }

  /**
   * A heartbeat arrived on `sink`'s stream. Throws TASKMANAGER_NOT_FOUND for an unknown or replaced
   * registration: the stream is then ended and the TaskManager registers again.
   */
  heartbeat(taskmanagerId: string, registrationId: string, reports: readonly TaskMetricsReport[], sink: HeartbeatSink): void {
    const tm = this.current(taskmanagerId, registrationId);
    if (!tm) {
      throw new RiffleError("TASKMANAGER_NOT_FOUND", `TaskManager ${taskmanagerId} has no registration ${registrationId} with this JobManager; register again`);
    }
    if (tm.sink !== sink) {
      tm.sink?.close();
      tm.sink = sink;
    }
    tm.lastHeartbeatAt = this.clock.now();
    this.listener.onTaskReports(tm, reports);
  }

  /** The Heartbeat stream behind `sink` ended or broke. */
  streamClosed(taskmanagerId: string, registrationId: string, sink: HeartbeatSink): void {
    const tm = this.current(taskmanagerId, registrationId);
    if (!tm || tm.sink !== sink || this.closed) return;
    tm.sink = undefined;
    this.lose(tm, "its connection broke");
  }

  get(taskmanagerId: string): RegisteredTaskManager | undefined {
    return this.taskmanagers.get(taskmanagerId);
  }

  list(): RegisteredTaskManager[] {
    return [...this.taskmanagers.values()];
  }

  slotCounts(): { taskmanagers: number; slotsTotal: number; slotsAvailable: number } {
    let slotsTotal = 0;
    let slotsAvailable = 0;
    for (const tm of this.taskmanagers.values()) {
      slotsTotal += tm.slotsNumber;
      slotsAvailable += tm.freeSlots;
    }
    return { taskmanagers: this.taskmanagers.size, slotsTotal, slotsAvailable };
  }

  /** Takes `needed` free slots for `jobId`, spread over TaskManagers, or none when too few are free. */
  allocate(jobId: string, needed: number): SlotRef[] | undefined {
    const picks = selectSlots(
      this.list().map((tm) => ({ taskmanagerId: tm.id, freeSlots: tm.freeSlots })),
      needed,
    );
    return picks?.map((id) => this.taskmanagers.get(id)!.takeSlot(jobId));
  }

  /**
   * Takes an idle TaskManager's slots out of the pool before it is stopped (the resource manager
   * releasing it): no job is given a slot on it from now on. Refused (false) when it is unknown or
   * any of its slots is held, e.g. allocated since it was found idle: it is not released then.
   */
  takeOutOfPool(taskmanagerId: string): boolean {
    const tm = this.taskmanagers.get(taskmanagerId);
    if (!tm || tm.slotOwners.some((o) => o !== undefined)) return false;
    tm.releasing = true;
    return true;
  }

  /** Puts a TaskManager whose release failed (it still runs) back into the pool. */
  returnToPool(taskmanagerId: string): void {
    const tm = this.taskmanagers.get(taskmanagerId);
    if (tm) tm.releasing = false;
  }

  /** Frees a slot held by `jobId`; a slot of a lost or re-registered TaskManager is gone already. */
  release(slot: SlotRef, jobId: string): boolean {
    const tm = this.current(slot.taskmanagerId, slot.registrationId);
    if (!tm || tm.slotOwners[slot.slotIndex] !== jobId) return false;
    tm.slotOwners[slot.slotIndex] = undefined;
    return true;
  }

  /** Runs every heartbeat interval: declares silent TaskManagers lost and heartbeats the others. */
  tick(): void {
    const now = this.clock.now();
    for (const tm of [...this.taskmanagers.values()]) {
      const silentMs = now - tm.lastHeartbeatAt;
      if (silentMs > this.options.heartbeatTimeoutMs) {
        this.lose(tm, `no heartbeat for ${silentMs} ms`);
        continue;
      }
      tm.sink?.send({ executionIds: this.listener.executionsOn(tm.id), fencingToken: this.options.fencingToken ?? "" });
    }
  }

  private current(taskmanagerId: string, registrationId: string): RegisteredTaskManager | undefined {
    const tm = this.taskmanagers.get(taskmanagerId);
    return tm && tm.registrationId === registrationId ? tm : undefined;
  }

  private lose(tm: RegisteredTaskManager, why: string): void {
    if (this.taskmanagers.get(tm.id) !== tm) return;
    this.taskmanagers.delete(tm.id);
    const sink = tm.sink;
    tm.sink = undefined;
    sink?.close();
    const message = `TaskManager ${tm.id} (${tm.address}) was lost: ${why}`;
    this.logger.warn({ taskmanagerId: tm.id, address: tm.address }, message);
    this.listener.onTaskManagerLost(tm, message);
  }
}
