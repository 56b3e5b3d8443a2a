import { KafkaBroker } from "@riffle/kafka-broker";
import { write } from "../output.js";
import { serve } from "./serve.js";

export interface DevKafkaOptions {
  port: number;
  host: string;
  dataDir: string;
  partitions: number;
  fsync: boolean;
}

/**
 * `riffle dev kafka`: the Kafka test broker in the foreground, for local demos (a single node speaking
 * the Kafka protocol, not a production Kafka). Stops on Ctrl-C or SIGTERM, keeping its data directory.
 */
export async function devKafkaCommand(options: DevKafkaOptions): Promise<number> {
  return serve(
    async () => {
      const broker = await KafkaBroker.start({
        dataDir: options.dataDir,
        port: options.port,
        host: options.host,
        defaultPartitions: options.partitions,
        fsync: options.fsync,
      });
      await write(
        process.stderr,
        `Kafka test broker listening on ${broker.address}, data in ${options.dataDir}.\n` +
          "A single-node test/dev broker speaking the Kafka protocol, not a production Kafka. Ctrl-C stops it.\n",
      );
      return broker;
    },
    { name: "Kafka test broker" },
  );
}
