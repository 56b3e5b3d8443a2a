/** The JobManager's clock is the shared one (also used by the Kafka test broker). */
export { type Cancel, type Clock, SystemClock, ManualClock } from "@riffle/shared";
