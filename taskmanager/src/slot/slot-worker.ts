/**
 * Entry point of a slot's worker thread (decision record 0006): runs the SlotRuntime, fed by the main
 * thread through parentPort.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createLogger } from "@riffle/shared";
import type { SlotWorkerData, ToWorker } from "./protocol.js";
import { SlotRuntime } from "./slot-runtime.js";

if (!parentPort) throw new Error("slot-worker.js runs only as a worker thread of a TaskManager");
const port = parentPort;
const data = workerData as SlotWorkerData;
const log = createLogger("taskmanager", { taskmanagerId: data.taskmanagerId, slot: data.slotIndex });
const runtime = new SlotRuntime(data, port, log);
port.on("message", (msg: ToWorker) => runtime.handle(msg));
runtime.start().catch((err: unknown) => {
  // Without its data server the slot cannot serve its partitions: the worker exits, and the
  // TaskManager reports that it could not start the slot.
  log.error({ err: String(err) }, "the slot's data server did not start");
  process.exit(1);
});
