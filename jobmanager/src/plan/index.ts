/** Plan mode: turning a job bundle into a JobGraph, in a worker thread with a time limit. */
export { WorkerPlanner, type PlanOptions, type WorkerPlannerOptions } from "./planner.js";
export { bundleJobModule, type JobModule } from "./bundle.js";
