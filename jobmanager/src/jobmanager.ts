import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { componentLogger, createLogger, type Logger, type RiffleConfig } from "@riffle/shared";
import { Dispatcher } from "./dispatcher/index.js";
import { SystemClock } from "./clock.js";
import { MetricsHistory, createJobManagerMetrics } from "./metrics/index.js";
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
    });
    registry.setListener(dispatcher);

    const { server: rpcServer, port: rpcPort } = await startRpcServer({
      host: config["jobmanager.rpc.address"],
      port: config["jobmanager.rpc.port"],
      dispatcher,
      registry,
      bundles,
      logger: componentLogger(logger, "rpc"),
    });
    const rest = await createRestServer({
      config,
      dispatcher,
      registry,
      metrics: createJobManagerMetrics(dispatcher, registry, metricsHistory),
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
    // Only a JobManager that owns its ports may rewrite the job records: one that failed to start
    // (PORT_IN_USE) must not mark a running JobManager's jobs as failed.
    dispatcher.recover();
    registry.start();
    logger.info({ restPort, rpcPort, storageDir }, "JobManager started");
    return new JobManager(logger, rest, rpcServer, registry, dispatcher, slots, gateway, planner, restPort, rpcPort, storageDir);
  }

  /** Stops serving. Jobs keep their recorded status; the next JobManager on this storage marks unfinished ones FAILED. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.registry.close();
    this.slots.close();
    this.dispatcher.close();
    await this.planner.close();
    this.rpcServer.forceShutdown();
    await this.rest.close();
    this.gateway.close();
    this.logger.info("JobManager stopped");
  }
}
