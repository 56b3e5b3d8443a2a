import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { join } from "node:path";
import { type Clock, type Logger, RiffleError, SystemClock, createLogger } from "@riffle/shared";
import { APIS } from "./apis/index.js";
import { Connection } from "./connection.js";
import { GroupCoordinator } from "./groups/group-coordinator.js";
import { OffsetStore } from "./groups/offset-store.js";
import { LogManager } from "./log/log-manager.js";
import type { Api, BrokerState } from "./protocol/api.js";
import { TransactionCoordinator } from "./transactions/transaction-coordinator.js";

export interface KafkaBrokerOptions {
  /** Where the logs, offsets and transaction state live; created if missing. */
  dataDir: string;
  /** Port to listen on; 0 picks a free one. Default 9092. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Host name given to clients in metadata (default: `host`). */
  advertisedHost?: string;
  /** Port given to clients in metadata (default: the one listened on), e.g. that of a proxy in front. */
  advertisedPort?: number;
  /** fsync before acknowledging acks=all writes and every state change. Default true. */
  fsync?: boolean;
  /** A Metadata request for an unknown topic creates it (Kafka's auto.create.topics.enable). Default true. */
  autoCreateTopics?: boolean;
  /** Partitions of an auto-created topic (Kafka's num.partitions). Default 1. */
  defaultPartitions?: number;
  /** Kafka's group.initial.rebalance.delay.ms. Default 0 (Kafka's is 3000): tests should not wait for nothing. */
  groupInitialRebalanceDelayMs?: number;
  /** Kafka's group.min.session.timeout.ms. Default 1000 (Kafka's is 6000), so tests can use short sessions. */
  groupMinSessionTimeoutMs?: number;
  /** Kafka's group.max.session.timeout.ms. Default 1800000. */
  groupMaxSessionTimeoutMs?: number;
  /** Kafka's transaction.max.timeout.ms. Default 900000. */
  transactionMaxTimeoutMs?: number;
  /** How often open transactions are checked against their timeout. Default 1000 ms (Kafka's is 10 s). */
  transactionTimeoutCheckIntervalMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/**
 * A single-node broker speaking the Kafka wire protocol, for Riffle's tests and local demos; not a
 * production Kafka. It keeps its log on disk (fsync before acknowledging acks=all writes), checks
 * idempotent producers' sequences, runs consumer groups and transactions, and serves the API versions
 * kafkajs 2.2 and librdkafka 2.0 use. It has no replication, no retention or compaction, no
 * authentication, no quotas, and one log file per partition.
 *
 * ```ts
 * const broker = await KafkaBroker.start({ dataDir: "/tmp/kafka", port: 0 });
 * const kafka = new Kafka({ brokers: [broker.address] });
 * // ...
 * await broker.close();
 * ```
 */
export class KafkaBroker {
  private readonly connections = new Set<Connection>();

  private boundPort = 0;

  private constructor(
    private readonly server: Server,
    private readonly state: BrokerState,
    private readonly offsets: OffsetStore,
    private readonly dataDir: string,
    private readonly unlock: () => void,
  ) {}

  static async start(options: KafkaBrokerOptions): Promise<KafkaBroker> {
    const logger = options.logger ?? createLogger("kafka-broker");
    const clock = options.clock ?? SystemClock;
    const fsync = options.fsync ?? true;
    const dataDir = options.dataDir;
    mkdirSync(dataDir, { recursive: true });
    const unlock = lockDataDir(dataDir);
    const clusterId = clusterIdOf(dataDir);
    const logs = LogManager.open(dataDir, fsync, logger);
    const offsets = OffsetStore.open(dataDir, fsync);
    const groups = new GroupCoordinator(offsets, clock, logger, {
      initialRebalanceDelayMs: options.groupInitialRebalanceDelayMs ?? 0,
      minSessionTimeoutMs: options.groupMinSessionTimeoutMs ?? 1000,
      maxSessionTimeoutMs: options.groupMaxSessionTimeoutMs ?? 1_800_000,
    });
    const transactions = await TransactionCoordinator.open(dataDir, fsync, logs, groups, clock, logger, {
      maxTimeoutMs: options.transactionMaxTimeoutMs ?? 900_000,
      timeoutCheckIntervalMs: options.transactionTimeoutCheckIntervalMs ?? 1000,
    });
    const host = options.host ?? "127.0.0.1";
    const state: BrokerState = {
      logs,
      groups,
      transactions,
      clock,
      logger,
      nodeId: 0,
      host: options.advertisedHost ?? host,
      port: 0,
      clusterId,
      autoCreateTopics: options.autoCreateTopics ?? true,
      defaultPartitions: options.defaultPartitions ?? 1,
      apis: APIS,
    };
    const apis = new Map<number, Api>(APIS.map((a) => [a.key, a]));
    const server = createServer();
    const broker = new KafkaBroker(server, state, offsets, dataDir, unlock);
    server.on("connection", (socket: Socket) => {
      const connection = new Connection(socket, state, apis, logger);
      broker.connections.add(connection);
      socket.on("close", () => broker.connections.delete(connection));
    });
    const port = options.port ?? 9092;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      await broker.closeStores();
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
        throw new RiffleError("PORT_IN_USE", `port ${port} on ${host} is in use: stop what listens there or choose another port (0 picks a free one)`);
      throw err;
    }
    broker.boundPort = (server.address() as AddressInfo).port;
    state.port = options.advertisedPort ?? broker.boundPort;
    logger.info({ host, port: broker.boundPort, advertisedPort: state.port, dataDir, topics: logs.all().length, fsync }, "Kafka test broker started");
    return broker;
  }

  /** The port it listens on. */
  get port(): number {
    return this.boundPort;
  }

  /** `host:port` it listens on, for clients' bootstrap servers (with the advertised host). */
  get address(): string {
    return `${this.state.host}:${this.boundPort}`;
  }

  private async closeStores(): Promise<void> {
    this.state.groups.shutdown();
    await this.state.transactions.close();
    await this.offsets.close();
    await this.state.logs.close();
    this.unlock();
  }

  /** Stops accepting connections, closes the open ones and flushes the stores. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const c of this.connections) c.destroy();
    });
    await this.closeStores();
    this.state.logger.info({ dataDir: this.dataDir }, "Kafka test broker stopped");
  }
}

/**
 * Claims the data directory for this process (`broker.pid`), so two brokers never write the same
 * logs. A pid file left by a broker that died (kill -9) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, "broker.pid");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8"));
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid))
      throw new RiffleError(
        "CLUSTER_ALREADY_RUNNING",
        `the data directory ${dataDir} is in use by the Kafka test broker with pid ${pid}: stop it, or choose another data directory`,
      );
  }
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The cluster id, made once per data directory (Kafka keeps it in meta.properties). */
function clusterIdOf(dataDir: string): string {
  const file = join(dataDir, "cluster.json");
  if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { clusterId: string }).clusterId;
  const clusterId = randomUUID();
  writeFileSync(file, `${JSON.stringify({ clusterId })}\n`);
  return clusterId;
}
