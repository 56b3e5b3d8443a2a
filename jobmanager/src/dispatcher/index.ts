/** Job submission and the directory of jobs known to this JobManager. */
export { Dispatcher, type DispatcherOptions, type SubmitRequest, type TaskOnTaskManager } from "./dispatcher.js";
