import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { RiffleError, componentLogger, createLogger, type Logger, type RiffleConfig } from "@riffle/shared";
import { Autoscaler, registerAutoscalerMetrics } from "./autoscaler/index.js";
import { Dispatcher } from "./dispatcher/index.js";
import { SystemClock } from "./clock.js";
import { MetricsHistory, createJobManagerMetrics } from "./metrics/index.js";
import { ResourceManager, checkResourceSettings, createProvider, registerResourceMetrics } from "./resources/index.js";
import { WorkerPlanner } from "./plan/index.js";
import { TaskManagerRegistry } from "./registry/index.js";
import { createRestServer, listenRest, type RestApp } from "./rest/index.js";
import { GrpcTaskExecutorGateway, startRpcServer } from "./rpc/index.js";
import { SlotProvider, jobDefaultsFromConfig } from "./scheduler/index.js";
import { BundleStore, JobStore } from "./store/index.js";

/** Riffle's version: the jobmanager package's. */
const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

/**
 * The JobManager process: a REST API and a gRPC server (ClientService for users, JobManagerService
 * for TaskManagers) in front of the dispatcher, the TaskManager registry and the job masters.
 */
export class JobManager {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly logger: Logger,
    private readonly rest: RestApp,
    private readonly rpcServer: grpc.Server,
    private readonly registry: TaskManagerRegistry,
    private readonly dispatcher: Dispatcher,
    private readonly slots: SlotProvider,
    private readonly gateway: GrpcTaskExecutorGateway,
    private readonly planner: WorkerPlanner,
    private readonly autoscaler: Autoscaler,
    private readonly resources: ResourceManager | undefined,
    /** Bound REST port (the configured one, or the free port picked for 0). */
    readonly restPort: number,
    /** Bound gRPC port. */
    readonly rpcPort: number,
    readonly storageDir: string,
  ) {}

  /**
   * Starts a JobManager: loads the job history from `jobmanager.storage.dir`, binds gRPC and REST,
   * and logs "JobManager started". Rejects with PORT_IN_USE when a port is taken.
   */
  static async create(config: RiffleConfig, logger: Logger = createLogger("jobmanager")): Promise<JobManager> {
    checkResourceSettings(config);
    const storageDir = resolve(config["jobmanager.storage.dir"]);
    mkdirSync(storageDir, { recursive: true });
    const bundles = new BundleStore(join(storageDir, "bundles"));
    const store = new JobStore(join(storageDir, "jobs"), componentLogger(logger, "store"));
    const registry = new TaskManagerRegistry({
      heartbeatIntervalMs: config["heartbeat.interval"],
      heartbeatTimeoutMs: config["heartbeat.timeout"],
      logger: componentLogger(logger, "registry"),
    });
    const gateway = new GrpcTaskExecutorGateway(config["heartbeat.timeout"]);
    const schedulerLogger = componentLogger(logger, "scheduler");
    const slots = new SlotProvider(registry, config["jobmanager.slot-request.timeout"], schedulerLogger);
    const planner = new WorkerPlanner({ logger: componentLogger(logger, "plan") });
    const metricsHistory = new MetricsHistory({
      windowMs: config["jobmanager.metrics.history"],
      reportIntervalMs: config["heartbeat.interval"],
      clock: SystemClock,
    });
    // The autoscaler and the dispatcher know each other: the dispatcher asks it to check submissions,
    // it asks the dispatcher for jobs and rescales.
    let jobs: Dispatcher | undefined;
    let resources: ResourceManager | undefined;
    const autoscaler = new Autoscaler({
      config,
      jobs: {
        list: () => jobs?.list() ?? [],
        rescaleVertices: async (jobId, parallelisms) => {
          const d = jobs!;
          const state = await d.operationSettled(jobId, "rescale", d.rescaleVertices(jobId, parallelisms));
          if (state.status === "FAILED") throw new RiffleError(state.failure.code, state.failure.message);
        },
      },
      history: metricsHistory,
      obtainableSlots: (jobId) => {
        let held = 0;
        for (const tm of registry.list()) held += tm.slotOwners.filter((o) => o === jobId).length;
        return held + registry.slotCounts().slotsAvailable + (resources?.extraSlots() ?? 0);
      },
      clock: SystemClock,
      logger: componentLogger(logger, "autoscaler"),
    });
    const dispatcher = new Dispatcher({
      bundles,
      store,
      slots,
      gateway,
      plan: (options) => planner.plan(options),
      planTimeoutMs: config["jobmanager.plan.timeout"],
      defaultParallelism: config["parallelism.default"],
      defaultMaxParallelism: config["pipeline.max-parallelism"],
      defaultBufferTimeoutMs: config["execution.buffer-timeout"],
      defaultAutoWatermarkIntervalMs: config["pipeline.auto-watermark-interval"],
      collectBufferRecords: config["jobmanager.collect.buffer-records"],
      cancelTimeoutMs: config["jobmanager.cancel.timeout"],
      jobDefaults: jobDefaultsFromConfig(config),
      logger: componentLogger(logger, "dispatcher"),
      schedulerLogger,
      checkpointLogger: componentLogger(logger, "checkpoint"),
      metricsHistory,
      checkGraph: (graph) => autoscaler.checkGraph(graph),
    });
    jobs = dispatcher;
    registry.setListener(dispatcher);

    const { server: rpcServer, port: rpcPort } = await startRpcServer({
      host: config["jobmanager.rpc.address"],
      port: config["jobmanager.rpc.port"],
      dispatcher,
      registry,
      bundles,
      logger: componentLogger(logger, "rpc"),
    });
    const metrics = createJobManagerMetrics(dispatcher, registry, metricsHistory);
    registerAutoscalerMetrics(metrics, autoscaler, dispatcher);
    if (config["resourcemanager.provider"] !== "standalone") {
      const resourceLogger = componentLogger(logger, "resources");
      resources = new ResourceManager({
        provider: createProvider(config, { storageDir, jobmanagerAddress: `${config["jobmanager.rpc.address"]}:${rpcPort}`, logger: resourceLogger }),
        registry,
        slots,
        config,
        clock: SystemClock,
        logger: resourceLogger,
      });
      registerResourceMetrics(metrics, resources);
      const rm = resources;
      slots.explainShortage(() => {
        const failure = rm.failure;
        return failure ? `the ${rm.providerName} provider cannot start TaskManagers (${failure})` : undefined;
      });
    }
    const rest = await createRestServer({
      config,
      dispatcher,
      registry,
      autoscaler,
      metrics,
      metricsHistory,
      logger: componentLogger(logger, "rest"),
      version: VERSION,
      startTime: Date.now(),
    });
    let restPort: number;
    try {
      restPort = await listenRest(rest, config["rest.bind-address"], config["rest.port"]);
    } catch (err) {
      rpcServer.forceShutdown();
      await rest.close();
      dispatcher.close();
      slots.close();
      await planner.close();
      throw err;
    }
    autoscaler.start();
    // Only a JobManager that owns its ports may rewrite the job records: one that failed to start
    // (PORT_IN_USE) must not mark a running JobManager's jobs as failed.
    dispatcher.recover();
    registry.start();
    // Adopts the TaskManagers a previous JobManager started, then starts what the jobs need.
    await resources?.start();
    logger.info({ restPort, rpcPort, storageDir }, "JobManager started");
    return new JobManager(logger, rest, rpcServer, registry, dispatcher, slots, gateway, planner, autoscaler, resources, restPort, rpcPort, storageDir);
  }

  /** Stops serving. Jobs keep their recorded status; the next JobManager on this storage marks unfinished ones FAILED. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.autoscaler.close();
    this.registry.close();
    this.slots.close();
    this.dispatcher.close();
    await this.planner.close();
    this.rpcServer.forceShutdown();
    await this.rest.close();
    this.gateway.close();
    // An orderly shutdown stops the TaskManagers it started; a crashed JobManager leaves them to the next.
    await this.resources?.close(true);
    this.logger.info("JobManager stopped");
  }
}
