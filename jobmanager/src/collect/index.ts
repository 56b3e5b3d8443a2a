/** Results of `collect` sinks, buffered per job for the client, with back-pressure on the sinks. */
export { ResultBuffer, type ResultRead } from "./result-buffer.js";
