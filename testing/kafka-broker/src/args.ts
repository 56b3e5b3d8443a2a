import { parseArgs } from "node:util";
import type { KafkaBrokerOptions } from "./broker.js";

export const BROKER_USAGE = `usage: riffle-kafka-broker --data-dir <dir> [options]
  --data-dir <dir>                  where the log, offsets and transactions are kept (required)
  --port <n>                        port to listen on, 0 for a free one (default 9092)
  --host <address>                  address to listen on (default 127.0.0.1)
  --advertised-host <name>          host name given to clients (default: --host)
  --advertised-port <n>             port given to clients (default: the one listened on)
  --partitions <n>                  partitions of auto-created topics (default 1)
  --no-auto-create-topics           unknown topics are an error instead of being created
  --no-fsync                        acknowledge without fsync (survives kill -9, not a machine crash)
  --group-initial-rebalance-delay-ms <n>      (default 0)
  --transaction-timeout-check-interval-ms <n> (default 1000)`;

function intOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} needs an integer of at least ${min}, got "${value}"`);
  return n;
}

/** Parses the broker's command line (also used by `riffle dev kafka`); throws with a clear message. */
export function parseBrokerArgs(argv: string[]): KafkaBrokerOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      "data-dir": { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "advertised-host": { type: "string" },
      "advertised-port": { type: "string" },
      partitions: { type: "string" },
      "no-auto-create-topics": { type: "boolean" },
      "no-fsync": { type: "boolean" },
      "group-initial-rebalance-delay-ms": { type: "string" },
      "transaction-timeout-check-interval-ms": { type: "string" },
    },
  });
  if (!values["data-dir"]) throw new Error("--data-dir is required");
  const port = intOption("port", values.port, 0);
  if (port !== undefined && port > 65535) throw new Error(`--port must be at most 65535, got ${port}`);
  const advertisedPort = intOption("advertised-port", values["advertised-port"], 1);
  if (advertisedPort !== undefined && advertisedPort > 65535) throw new Error(`--advertised-port must be at most 65535, got ${advertisedPort}`);
  return {
    dataDir: values["data-dir"],
    port,
    host: values.host,
    advertisedHost: values["advertised-host"],
    advertisedPort,
    defaultPartitions: intOption("partitions", values.partitions, 1),
    autoCreateTopics: !values["no-auto-create-topics"],
    fsync: !values["no-fsync"],
    groupInitialRebalanceDelayMs: intOption("group-initial-rebalance-delay-ms", values["group-initial-rebalance-delay-ms"], 0),
    transactionTimeoutCheckIntervalMs: intOption("transaction-timeout-check-interval-ms", values["transaction-timeout-check-interval-ms"], 1),
  };
}
