/** Job submission, the directory of jobs known to this JobManager, and the savepoint/stop/rescale operations on them. */
export { Dispatcher, type DispatcherOptions, type SavepointOptions, type SubmitRequest } from "./dispatcher.js";
export { AsyncOperations, type OperationKind, type OperationState } from "./operations.js";
