/** Plan mode: turning a job bundle into a JobGraph, in a worker thread with a time limit. */
export { planInWorker, type PlanOptions } from "./planner.js";
export { bundleJobModule, type JobModule } from "./bundle.js";
