import type { JobManagerHeartbeat, RegisterTaskManagerRequest } from "@riffle/shared";

/** Where the JobManager's heartbeats to one TaskManager go: its open Heartbeat stream. */
export interface HeartbeatSink {
  send(heartbeat: JobManagerHeartbeat): void;
  /** Ends the stream; with an error when the TaskManager should register again. */
  close(error?: Error): void;
}

/** One slot of a TaskManager, as handed to a job. */
export interface SlotRef {
  taskmanagerId: string;
  /** The registration the slot belongs to: a TaskManager that registers again offers new slots. */
  registrationId: string;
  address: string;
  slotIndex: number;
}

/** A registered TaskManager: its offer, its slots and when it was last heard from. */
export class RegisteredTaskManager {
  readonly id: string;
  readonly address: string;
  readonly metricsAddress: string;
  readonly pid: number;
  readonly slotsNumber: number;
  /** Job id holding each slot, undefined when free. */
  readonly slotOwners: Array<string | undefined>;
  lastHeartbeatAt: number;
  sink: HeartbeatSink | undefined;
  /**
   * Being stopped by the resource manager: its slots are out of the pool (a TaskManager that is
   * stopping closes its slots before it drops its connection, so none may be allocated meanwhile).
   */
  releasing = false;

  constructor(
    request: RegisterTaskManagerRequest,
    readonly registrationId: string,
    readonly registeredAt: number,
  ) {
    this.id = request.taskmanagerId;
    this.address = request.address;
    this.metricsAddress = request.metricsAddress;
    this.pid = request.pid;
    this.slotsNumber = request.slots;
    this.slotOwners = Array.from({ length: request.slots }, () => undefined);
    this.lastHeartbeatAt = registeredAt;
  }

  /** Slots a job may take now: none while it is being released. */
  get freeSlots(): number {
    if (this.releasing) return 0;
    return this.slotOwners.filter((o) => o === undefined).length;
  }

  /** Takes the lowest free slot for `jobId`. */
  takeSlot(jobId: string): SlotRef {
    const slotIndex = this.slotOwners.indexOf(undefined);
    if (slotIndex < 0) throw new Error(`TaskManager ${this.id} has no free slot`);
    this.slotOwners[slotIndex] = jobId;
    return { taskmanagerId: this.id, registrationId: this.registrationId, address: this.address, slotIndex };
  }
}
