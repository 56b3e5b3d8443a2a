/**
 * Slots: each a worker thread running the tasks of one job attempt (decision record 0006). The main
 * thread side is SlotHost; the worker side is SlotRuntime (started by slot-worker.ts).
 */
export { SlotHost, SlotWorker, configureV8, taskManagerV8Flags, type SlotEvents, type SlotOptions } from "./slot-host.js";
export { SlotRuntime, type MainLink } from "./slot-runtime.js";
export type { SlotSnapshot, TaskSnapshot, SlotWorkerData, ToWorker, FromWorker } from "./protocol.js";
