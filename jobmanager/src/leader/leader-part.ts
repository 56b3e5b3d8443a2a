import { RiffleError, type Clock, type JobGraph, type Logger, type RiffleConfig } from "@riffle/shared";
import { Autoscaler } from "../autoscaler/index.js";
import { Dispatcher } from "../dispatcher/index.js";
import type { LeaderStores } from "../ha/index.js";
import { MetricsHistory } from "../metrics/index.js";
import type { PlanOptions } from "../plan/index.js";
import { TaskManagerRegistry } from "../registry/index.js";
import { GrpcTaskExecutorGateway } from "../rpc/index.js";
import { ResourceManager, createProvider } from "../resources/index.js";
import { SlotProvider, jobDefaultsFromConfig } from "../scheduler/index.js";
import type { BundleStore } from "../store/index.js";

export interface LeaderPartOptions {
  config: RiffleConfig;
  /** The stores of the leadership, fenced by its session. */
  stores: LeaderStores;
  bundles: BundleStore;
  /** With high availability a new leader takes over unfinished jobs; without, they are marked FAILED. */
  recoverJobs: boolean;
  /** This JobManager's id, given to TaskManagers with the fencing token. */
  leaderId: string;
  /** Where the resource manager's providers keep their files (jobmanager.storage.dir). */
  storageDir: string;
  /** The gRPC address TaskManagers a provider starts register at. */
  rpcAddress: string;
  /** Plans a job (the JobManager's plan workers, shared by its leaderships). */
  plan(options: PlanOptions): Promise<JobGraph>;
  clock: Clock;
  logger: Logger;
  onJobRecovered(jobId: string): void;
}

/**
 * What a JobManager runs only while it leads (Flink's DispatcherLeaderProcess with its
 * ResourceManager): the TaskManager registry, the slot provider, the fenced gateway to TaskManagers,
 * the dispatcher with its job masters (each with its checkpoint coordinator and collect buffer), the
 * metrics history of their tasks, the autoscaler, and the resource manager when a provider starts
 * TaskManagers. One part per leadership: a new grant builds a new one.
 *
 *   grant ──► new LeaderPart(session's stores) ──► start(): recover the jobs ──► serving
 *   revoke ──► close(): synchronously, nothing more is deployed, checkpointed, committed or written
 */
export class LeaderPart {
  readonly registry: TaskManagerRegistry;
  readonly slots: SlotProvider;
  readonly gateway: GrpcTaskExecutorGateway;
  readonly dispatcher: Dispatcher;
  readonly metricsHistory: MetricsHistory;
  readonly autoscaler: Autoscaler;
  /** Absent with the standalone provider (TaskManagers are started by someone else). */
  readonly resources: ResourceManager | undefined;
  private closedFlag = false;

  constructor(readonly options: LeaderPartOptions) {
    const { config, clock, logger, stores } = options;
    this.registry = new TaskManagerRegistry({
      heartbeatIntervalMs: config["heartbeat.interval"],
      heartbeatTimeoutMs: config["heartbeat.timeout"],
      logger: logger.child({ component: "registry" }),
      clock,
      fencingToken: stores.session.token,
      leaderId: options.leaderId,
    });
    this.gateway = new GrpcTaskExecutorGateway(config["heartbeat.timeout"], stores.session);
    const schedulerLogger = logger.child({ component: "scheduler" });
    this.slots = new SlotProvider(this.registry, config["jobmanager.slot-request.timeout"], schedulerLogger, clock);
    this.metricsHistory = new MetricsHistory({ windowMs: config["jobmanager.metrics.history"], reportIntervalMs: config["heartbeat.interval"], clock });
    // The autoscaler and the dispatcher know each other: the dispatcher asks it to check submissions,
    // it asks the dispatcher for jobs and rescales.
    this.autoscaler = new Autoscaler({
      config,
      jobs: {
        list: () => this.dispatcher?.list() ?? [],
        rescaleVertices: async (jobId, parallelisms) => {
          const d = this.dispatcher;
          const state = await d.operationSettled(jobId, "rescale", d.rescaleVertices(jobId, parallelisms));
          if (state.status === "FAILED") throw new RiffleError(state.failure.code, state.failure.message);
        },
      },
      history: this.metricsHistory,
      obtainableSlots: (jobId) => {
        let held = 0;
        for (const tm of this.registry.list()) held += tm.slotOwners.filter((o) => o === jobId).length;
        return held + this.registry.slotCounts().slotsAvailable + (this.resources?.extraSlots() ?? 0);
      },
      providerHold: () => this.resources?.holdReason,
      clock,
      logger: logger.child({ component: "autoscaler" }),
    });
    this.dispatcher = new Dispatcher({
      bundles: options.bundles,
      stores,
      recoverJobs: options.recoverJobs,
      onJobRecovered: options.onJobRecovered,
      slots: this.slots,
      gateway: this.gateway,
      plan: (planOptions) => options.plan(planOptions),
      planTimeoutMs: config["jobmanager.plan.timeout"],
      defaultParallelism: config["parallelism.default"],
      defaultMaxParallelism: config["pipeline.max-parallelism"],
      defaultBufferTimeoutMs: config["execution.buffer-timeout"],
      defaultAutoWatermarkIntervalMs: config["pipeline.auto-watermark-interval"],
      failureDetectionMs: config["heartbeat.timeout"] + config["heartbeat.interval"],
      collectBufferRecords: config["jobmanager.collect.buffer-records"],
      cancelTimeoutMs: config["jobmanager.cancel.timeout"],
      jobDefaults: jobDefaultsFromConfig(config),
      logger: logger.child({ component: "dispatcher" }),
      schedulerLogger,
      checkpointLogger: logger.child({ component: "checkpoint" }),
      metricsHistory: this.metricsHistory,
      clock,
      checkGraph: (graph) => this.autoscaler.checkGraph(graph),
    });
    this.registry.setListener(this.dispatcher);
    if (config["resourcemanager.provider"] !== "standalone") {
      const resourceLogger = logger.child({ component: "resources" });
      const rm = new ResourceManager({
        provider: createProvider(config, { storageDir: options.storageDir, jobmanagerAddress: options.rpcAddress, logger: resourceLogger }),
        registry: this.registry,
        slots: this.slots,
        config,
        clock,
        logger: resourceLogger,
      });
      this.slots.explainShortage(() => rm.shortage);
      this.resources = rm;
    }
    // TaskManagers may register at once (they find a JobManager without high availability by its
    // configured address): heartbeats run from the start.
    this.registry.start();
  }

  get session() {
    return this.options.stores.session;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Takes over the jobs in the store (see Dispatcher.recover); rejects when the stores cannot be read. */
  async start(): Promise<void> {
    await this.dispatcher.recover();
    if (this.closedFlag) return;
    this.autoscaler.start();
    // Adopts the TaskManagers an earlier leader started (in the background: a provider whose API
    // hangs does not hold up the leadership), then starts what the jobs need.
    await this.resources?.start();
  }

  /**
   * Stops everything at once and for good: registry (its heartbeat streams end, so TaskManagers look
   * for the leader again), slot requests, job masters, coordinators and the gateway.
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.autoscaler.close();
    // TaskManagers a provider started stay for the next leader, which adopts them.
    void this.resources?.close(false);
    this.registry.close();
    this.slots.close();
    this.dispatcher.close();
    this.gateway.close();
  }
}
