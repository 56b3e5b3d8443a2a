/**
 * Source coordinators (Flink's FLIP-27 SourceCoordinator): the split enumerators of a job's sources
 * run on the JobManager, in a worker thread of the job; they discover splits, assign them to the
 * readers over SendOperatorEvent, keep their state in every checkpoint (taken before the source tasks
 * are triggered), and get back the splits of readers that failed.
 *
 * ```ts
 * const coordinators = new JobSourceCoordinators({ jobId, jobName, args, bundlePath, gateway, logger, failJob, executionEnded });
 * coordinators.deploy(graph, restored);                 // before the tasks are deployed
 * coordinators.handleEventFromTask(execution, event);   // from JobManagerService.SendOperatorEvent
 * // the CheckpointCoordinator calls checkpointCoordinators / afterSourceBarrierInjection / notifyCheckpointComplete
 * coordinators.attemptEnded();                          // the job restarts
 * await coordinators.close();                           // the job ended
 * ```
 */
export {
  JobSourceCoordinators,
  type JobSourceCoordinatorsDeps,
  type OperatorEventGateway,
  type ReaderExecution,
  type RestoredCoordinators,
} from "./job-source-coordinators.js";
export { EnumeratorRuntime, type FunctionLoader } from "./enumerator-runtime.js";
export { SplitAssignmentTracker } from "./split-assignment-tracker.js";
export { SubtaskGateway, type EventSender } from "./subtask-gateway.js";
export type { CoordinatedSource, FromCoordinatorWorker, StartRequest, ToCoordinatorWorker } from "./protocol.js";
