/** The one Clock lives in `@riffle/shared` (every process uses it); re-exported for the JobManager's modules. */
export { type Cancel, type Clock, SystemClock, ManualClock } from "@riffle/shared";
