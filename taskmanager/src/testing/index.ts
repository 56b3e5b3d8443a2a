export { runLocally, type LocalRunOptions, type LocalRunResult } from "./local-runner.js";
export { ManualProcessingTime } from "./manual-clock.js";
export { prng } from "./prng.js";
export { testRuntimeContext } from "./runtime-context.js";
