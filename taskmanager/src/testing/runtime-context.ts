import type { RuntimeContext } from "@riffle/sdk";

/**
 * A runtime context for operators run outside a task (in-process runs and operator tests): subtask 0
 * of 1 unless told otherwise, max parallelism 128, metrics that go nowhere, no job arguments.
 */
export function testRuntimeContext(overrides: Partial<RuntimeContext> = {}): RuntimeContext {
  return {
    jobId: "local",
    jobName: "local",
    taskName: "local",
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    metrics: { counter: () => ({ inc() {} }), gauge() {} },
    args: [],
    ...overrides,
  };
}
