import { randomUUID } from "node:crypto";
import { type Logger, type RiffleConfig, toRiffleError } from "@riffle/shared";
import type { Cancel, Clock } from "../clock.js";
import type { ProviderExit, TaskManagerProvider } from "./provider.js";

/** What the resource manager reads of the registry: who registered, and their slots. */
export interface RegisteredView {
  get(taskmanagerId: string): { slotOwners: ReadonlyArray<string | undefined> } | undefined;
  slotCounts(): { slotsAvailable: number };
}

/** What it reads of the slot provider: slots that jobs wait for. */
export interface SlotDemand {
  pendingSlots(): number;
}

export interface ResourceManagerOptions {
  provider: TaskManagerProvider;
  registry: RegisteredView;
  slots: SlotDemand;
  config: RiffleConfig;
  clock: Clock;
  logger: Logger;
}

/**
 * A provided TaskManager's life:
 *
 *   starting ──registers──► registered ──idle for taskmanager-timeout (above min)──► stopping ──► (gone)
 *      │  ▲                      │ left the registry (heartbeat timeout) while its process lives
 *      │  └──────────────────────┘ (starting again: it has the registration timeout to come back)
 *      │ not registered within the registration timeout ──────────────────────────► stopping
 *      └─ any state: its process/container/pod ends ──► (gone; a new one starts if its slots are needed)
 *
 * Back-off: a start that fails, a TaskManager that ends or hangs before it registers, and one that
 * ends within the registration timeout after it registered (a TaskManager killed at every deploy)
 * each double the wait before the next start. Only a TaskManager that stayed registered that long
 * clears it.
 */
type WorkerState = "starting" | "registered" | "stopping";

interface Worker {
  id: string;
  state: WorkerState;
  /** When it entered its state. */
  since: number;
  where: string;
  /** Registered with every slot free since then. */
  idleSince: number | undefined;
  /** It had registered, then left the registry (heartbeats timed out) while its process lives: it is given the registration timeout to come back. */
  lost: boolean;
  /** When it last registered (undefined: never). */
  registeredAt: number | undefined;
}

const TICK_MS = 500;
const MAX_RETRY_MS = 60_000;

/**
 * The JobManager's resource manager (Flink's active ResourceManager): asks the provider for
 * TaskManagers when jobs wait for slots that registered TaskManagers cannot give (a job's start, a
 * rescale, a TaskManager that died), keeps `resourcemanager.taskmanagers.min` running, never more than
 * `max`, and stops TaskManagers whose slots all stayed free for `resourcemanager.taskmanager-timeout`.
 * On start it reconciles: the TaskManagers a previous JobManager left are adopted (they register
 * again by themselves). A start that fails is retried after a delay that doubles, so a broken
 * provider is not hammered.
 */
export class ResourceManager {
  readonly counts = { started: 0, startFailures: 0, registrationTimeouts: 0, exited: 0, released: 0 };
  private readonly workers = new Map<string, Worker>();
  private readonly slotsPerTaskManager: number;
  private readonly min: number;
  private readonly max: number;
  private cancelTick: Cancel | undefined;
  private closed = false;
  private failuresInRow = 0;
  private retryAt = 0;
  private lastFailure: string | undefined;
  /** At the last tick, jobs waited for slots that only TaskManagers beyond `max` could give. */
  private atMax = false;
  /** Whether the provider listed what it runs (adopted); until then nothing is started or released. */
  private reconciled = false;
  private reconciling = false;
  private reconcileFailures = 0;
  private reconcileAt = 0;

  constructor(private readonly options: ResourceManagerOptions) {
    const c = options.config;
    this.slotsPerTaskManager = c["taskmanager.slots"];
    this.min = c["resourcemanager.taskmanagers.min"];
    this.max = c["resourcemanager.taskmanagers.max"];
  }

  get providerName(): string {
    return this.options.provider.name;
  }

  /**
   * Adopts what a previous JobManager left, then starts supervising. A provider that cannot list its
   * TaskManagers yet (its API unreachable) is asked again from the ticks, backing off; until it
   * answers nothing is started or released (what exists is unknown), and jobs run on the
   * TaskManagers that registered.
   */
  async start(): Promise<void> {
    const { provider, logger, clock } = this.options;
    provider.watch((exit) => this.onExit(exit));
    // In the background: a provider whose API hangs must not hold up the leader (its calls have
    // deadlines; until it answers, the ticks start and release nothing).
    this.reconciling = true;
    void this.reconcile().finally(() => {
      this.reconciling = false;
    });
    const tick = () => {
      if (this.closed) return;
      try {
        this.tick();
      } catch (err) {
        logger.error({ err: toRiffleError(err).message }, "resource manager tick failed");
      }
      this.cancelTick = clock.schedule(tick, TICK_MS);
    };
    tick();
  }

  /** Lists the provider's TaskManagers and adopts them; on failure, schedules the next try. */
  private async reconcile(): Promise<void> {
    const { provider, logger, clock } = this.options;
    let existing: Awaited<ReturnType<TaskManagerProvider["list"]>>;
    try {
      existing = await provider.list();
    } catch (err) {
      const e = toRiffleError(err);
      const delay = Math.min(1_000 * 2 ** this.reconcileFailures++, MAX_RETRY_MS);
      this.reconcileAt = clock.now() + delay;
      this.lastFailure = `cannot list its TaskManagers: ${e.code}: ${e.message}`;
      logger.warn(
        { provider: provider.name, retryInMs: delay },
        `the ${provider.name} provider cannot list its TaskManagers (${e.message}); starting and releasing none until it can; trying again in ${delay} ms`,
      );
      return;
    }
    if (this.closed) return;
    this.reconciled = true;
    this.lastFailure = undefined;
    const now = clock.now();
    for (const tm of existing) {
      if (!this.workers.has(tm.id))
        this.workers.set(tm.id, { id: tm.id, state: "starting", since: now, where: tm.where, idleSince: undefined, lost: false, registeredAt: undefined });
    }
    logger.info(
      { provider: provider.name, adopted: existing.map((t) => t.id), min: this.min, max: this.max },
      `resource manager started with the ${provider.name} provider${existing.length > 0 ? `; adopted ${existing.length} TaskManager(s) a previous JobManager started` : ""}`,
    );
  }

  /** Stops supervising; `stopAll` stops the provided TaskManagers too (an orderly shutdown). */
  async close(stopAll: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelTick?.();
    await this.options.provider.close(stopAll);
  }

  /**
   * Slots the provider could still add, within max: for the autoscaler's "is it possible". None while
   * the provider fails or the resource manager backs off from it (see `holdReason`): a rescale must
   * not count on TaskManagers that cannot come.
   */
  extraSlots(): number {
    if (this.holdReason !== undefined) return 0;
    return Math.max(0, this.max - this.active()) * this.slotsPerTaskManager;
  }

  /** Why no TaskManager can be counted on now: the provider fails, or starts wait out a back-off; undefined when starts are possible. */
  get holdReason(): string | undefined {
    if (!this.reconciled) return this.lastFailure ?? `the ${this.providerName} provider has not listed its TaskManagers yet`;
    if (this.lastFailure !== undefined) return this.lastFailure;
    const now = this.options.clock.now();
    if (now < this.retryAt) return `starts back off until ${new Date(this.retryAt).toISOString()}`;
    return undefined;
  }

  /** TaskManagers by state, for metrics. */
  states(): Record<WorkerState, number> {
    const out: Record<WorkerState, number> = { starting: 0, registered: 0, stopping: 0 };
    for (const w of this.workers.values()) out[w.state]++;
    return out;
  }

  /** One round: registrations, starts for missing slots, idle releases (the timer's; tests call it). */
  tick(): void {
    const { registry, slots, config, clock, logger } = this.options;
    const now = clock.now();
    const registrationTimeout = config["resourcemanager.taskmanager-registration.timeout"];
    if (!this.reconciled) {
      if (!this.reconciling && now >= this.reconcileAt) {
        this.reconciling = true;
        void this.reconcile().finally(() => {
          this.reconciling = false;
        });
      }
      return;
    }
    for (const w of this.workers.values()) {
      if (w.state !== "starting") continue;
      if (registry.get(w.id)) {
        logger.info({ taskmanagerId: w.id, msToRegister: now - w.since }, `provided TaskManager ${w.id} ${w.lost ? "registered again" : "registered"}`);
        this.enter(w, "registered", now);
        w.lost = false;
        w.registeredAt = now;
        // It came up: its slots can be counted on again. The back-off itself is cleared only once it
        // stayed (below), so one that dies right after registering keeps doubling it.
        this.lastFailure = undefined;
      } else if (now - w.since >= registrationTimeout) {
        this.counts.registrationTimeouts++;
        const what = w.lost ? "did not register again" : "did not register";
        this.startFailed(w.id, `TaskManager ${w.id} ${what} within ${registrationTimeout} ms`);
        logger.warn(
          { taskmanagerId: w.id, where: w.where },
          `TaskManager ${w.id} (${w.where}) ${what} within ${registrationTimeout} ms of its ${w.lost ? "leaving the registry" : "start"}; stopping it (see its log)`,
        );
        this.stop(w, now);
      }
    }
    for (const w of this.workers.values()) {
      if (w.state !== "registered") continue;
      if (!registry.get(w.id)) {
        // Its heartbeats timed out but its process lives (hung, or cut off): wait for it as for a
        // start; if it does not come back it is stopped, and the demand starts a new one.
        logger.warn(
          { taskmanagerId: w.id, where: w.where },
          `provided TaskManager ${w.id} (${w.where}) left the registry; stopping it unless it registers again within ${registrationTimeout} ms`,
        );
        this.enter(w, "starting", now);
        w.lost = true;
      } else if (this.failuresInRow > 0 && now - w.since >= registrationTimeout) {
        this.failuresInRow = 0;
      }
    }

    const pending = slots.pendingSlots();
    const starting = [...this.workers.values()].filter((w) => w.state === "starting").length;
    const missing = pending - registry.slotCounts().slotsAvailable - starting * this.slotsPerTaskManager;
    let want = Math.max(missing > 0 ? Math.ceil(missing / this.slotsPerTaskManager) : 0, this.min - this.active());
    this.atMax = missing > 0 && want > this.max - this.active();
    want = Math.min(want, this.max - this.active());
    if (want > 0) {
      if (now < this.retryAt) return;
      for (let i = 0; i < want; i++) this.startOne(now);
      return;
    }

    for (const w of this.workers.values()) {
      if (w.state !== "registered") continue;
      const tm = registry.get(w.id);
      const idle = tm?.slotOwners.every((o) => o === undefined) === true;
      if (!idle || pending > 0) {
        w.idleSince = undefined;
        continue;
      }
      w.idleSince ??= now;
      if (now - w.idleSince >= config["resourcemanager.taskmanager-timeout"] && this.active() > this.min) {
        this.counts.released++;
        logger.info({ taskmanagerId: w.id, idleMs: now - w.idleSince }, `releasing TaskManager ${w.id}: its slots were all free for ${now - w.idleSince} ms`);
        this.stop(w, now);
      }
    }
  }

  private active(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.state !== "stopping") n++;
    return n;
  }

  private startOne(now: number): void {
    const { provider, logger } = this.options;
    const id = `taskmanager-${randomUUID().slice(0, 8)}`;
    const w: Worker = { id, state: "starting", since: now, where: "starting", idleSince: undefined, lost: false, registeredAt: undefined };
    this.workers.set(id, w);
    logger.info({ taskmanagerId: id, provider: provider.name }, `starting TaskManager ${id} (${provider.name})`);
    provider.start(id).then(
      (tm) => {
        w.where = tm.where;
        this.counts.started++;
      },
      (err: unknown) => {
        this.workers.delete(id);
        const e = toRiffleError(err);
        this.startFailed(id, `${e.code}: ${e.message}`);
      },
    );
  }

  /** A start failed, or the TaskManager ended or hung before it registered: count it, and wait longer before the next start. */
  private startFailed(id: string, why: string): void {
    const { provider, logger, clock, config } = this.options;
    this.counts.startFailures++;
    this.failuresInRow++;
    const delay = Math.min(config["resourcemanager.start-worker.retry-interval"] * 2 ** (this.failuresInRow - 1), MAX_RETRY_MS);
    this.retryAt = clock.now() + delay;
    this.lastFailure = why;
    logger.warn({ taskmanagerId: id, provider: provider.name, retryInMs: delay }, `could not start a TaskManager: ${why}; trying again in ${delay} ms`);
  }

  /** Why the last TaskManager start failed, while starts keep failing. */
  get failure(): string | undefined {
    return this.lastFailure;
  }

  /**
   * Why jobs waiting for slots get no more from this resource manager, for their NO_RESOURCE_AVAILABLE:
   * its provider fails, or `max` TaskManagers run already (then the slot wait's own advice, "start
   * more TaskManagers", means raising that setting, so the message names it).
   */
  get shortage(): string | undefined {
    if (this.lastFailure !== undefined) return `the ${this.providerName} provider cannot start TaskManagers (${this.lastFailure})`;
    if (this.atMax) {
      return `the ${this.providerName} provider already runs resourcemanager.taskmanagers.max (${this.max}) TaskManagers of ${this.slotsPerTaskManager} slots, so it starts no more (raise the max)`;
    }
    return undefined;
  }

  private stop(w: Worker, now: number): void {
    this.enter(w, "stopping", now);
    this.options.provider
      .stop(w.id)
      .catch((err: unknown) => this.options.logger.warn({ taskmanagerId: w.id, err: toRiffleError(err).message }, "stopping a TaskManager failed"))
      .finally(() => {
        if (this.workers.get(w.id) === w) this.workers.delete(w.id);
      });
  }

  private enter(w: Worker, state: WorkerState, now: number): void {
    w.state = state;
    w.since = now;
    w.idleSince = undefined;
  }

  private onExit(exit: ProviderExit): void {
    const w = this.workers.get(exit.id);
    if (!w) return;
    this.workers.delete(exit.id);
    this.counts.exited++;
    // One that ends before it registered is a failed start (a bad setting, a broken image): back off.
    if (w.registeredAt === undefined && w.state === "starting") {
      this.startFailed(exit.id, `TaskManager ${exit.id} ${exit.reason} before it registered (see its log)`);
      return;
    }
    // One that ends soon after it registered (killed at every deploy, out of memory at its first
    // task) would otherwise be replaced at once, forever: it counts as a failed start too.
    const registeredFor = this.options.clock.now() - (w.registeredAt ?? 0);
    if (w.state !== "stopping" && registeredFor < this.options.config["resourcemanager.taskmanager-registration.timeout"]) {
      this.startFailed(exit.id, `TaskManager ${exit.id} ${exit.reason} ${registeredFor} ms after it registered (see its log)`);
      return;
    }
    this.options.logger.warn(
      { taskmanagerId: exit.id, state: w.state },
      `provided TaskManager ${exit.id} ${exit.reason}; a new one is started if its slots are needed`,
    );
  }
}
