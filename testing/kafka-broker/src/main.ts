#!/usr/bin/env node
/**
 * The test broker as a process: `node testing/kafka-broker/dist/main.js --port 0 --data-dir <dir>`.
 * Prints `READY <host>:<port>` on stdout once it accepts connections (its logs are JSON lines on
 * stdout too); stops cleanly on SIGTERM or SIGINT. Exit 2 for bad arguments, 1 if it cannot start.
 */
import { BROKER_USAGE, parseBrokerArgs } from "./args.js";
import { KafkaBroker } from "./broker.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(`${BROKER_USAGE}\n`);
  process.exit(0);
}

let options: ReturnType<typeof parseBrokerArgs>;
try {
  options = parseBrokerArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n${BROKER_USAGE}\n`);
  process.exit(2);
}

try {
  const broker = await KafkaBroker.start(options);
  process.stdout.write(`READY ${broker.address}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    broker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error while stopping: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} catch (err) {
  process.stderr.write(`error: the Kafka test broker could not start: ${(err as Error).message}\n`);
  process.exit(1);
}
