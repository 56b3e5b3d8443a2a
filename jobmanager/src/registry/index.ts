/** The TaskManagers known to the JobManager: registration, heartbeats, slots. */
export { TaskManagerRegistry, type TaskManagerListener, type RegistryOptions } from "./taskmanager-registry.js";
export { RegisteredTaskManager, type HeartbeatSink, type SlotRef } from "./taskmanager.js";
export { selectSlots, type SlotCandidate } from "./slot-selection.js";
