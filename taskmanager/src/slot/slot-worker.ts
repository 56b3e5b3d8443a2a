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
  // The slot cannot serve its partitions without its data server: the worker fails with the error,
  // which the TaskManager reports as the cause ("uncaught error in slot N: cannot listen on ...").
  setImmediate(() => {
    throw err;
  });
});
