import type { RuntimeContext } from "@riffle/sdk";
import { createLogger, type Logger } from "@riffle/shared";

let logger: Logger | undefined;

/**
 * A runtime context for operators run outside a task (in-process runs and operator tests): subtask 0
 * of 1 unless told otherwise, max parallelism 128, metrics that go nowhere, no job arguments, and a
 * logger of component "local" (RIFFLE_LOG_LEVEL applies).
 */
export function testRuntimeContext(overrides: Partial<RuntimeContext> = {}): RuntimeContext {
  logger ??= createLogger("local");
  return {
    jobId: "local",
    jobName: "local",
    taskName: "local",
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    metrics: { counter: () => ({ inc() {} }), gauge() {} },
    log: logger,
    args: [],
    ...overrides,
  };
}
