import { join } from "node:path";
import { createLogger, type JobGraph, type Logger } from "@riffle/shared";
import type { JobDefaults } from "../scheduler/index.js";
import type { JobRecord } from "../store/index.js";

/** Shared pieces of the JobManager's unit tests. */

export const silentLogger: Logger = createLogger("test");
silentLogger.level = "silent";

export const TEST_JOB_ID = "0123456789abcdef0123456789abcdef";

/** source (p1) --rebalance--> map -> sink (p2) */
export function testGraph(extra: Partial<JobGraph> = {}): JobGraph {
  return {
    name: "test-job",
    maxParallelism: 128,
    bufferTimeoutMs: 100,
    functionCount: 3,
    vertices: [
      {
        id: "v1",
        name: "Source",
        parallelism: 1,
        maxParallelism: 128,
        operators: [{ nodeId: 1, name: "Source", uid: "source-1", kind: "source", fn: 0, chainedOutputs: [], networkOutputs: ["e1"] }],
        inputs: [],
        outputs: ["e1"],
      },
      {
        id: "v2",
        name: "Map -> Sink",
        parallelism: 2,
        maxParallelism: 128,
        operators: [
          { nodeId: 2, name: "Map", uid: "map-2", kind: "map", fn: 1, chainedOutputs: [1], networkOutputs: [] },
          { nodeId: 3, name: "Sink", uid: "sink-3", kind: "sink", fn: 2, chainedOutputs: [], networkOutputs: [] },
        ],
        inputs: ["e1"],
        outputs: [],
      },
    ],
    edges: [{ id: "e1", source: "v1", target: "v2", partitioner: "rebalance" }],
    ...extra,
  };
}

/** The configuration defaults, with checkpoints under `checkpointDir`. */
export function testDefaults(checkpointDir: string): JobDefaults {
  return {
    stateBackend: "memory",
    checkpoints: { timeoutMs: 600_000, minPauseMs: 0, tolerableFailures: 0, retained: 3, dir: checkpointDir, savepointDir: join(checkpointDir, "savepoints") },
    restart: { initialDelayMs: 1_000, maxDelayMs: 60_000, multiplier: 2, resetAfterMs: 3_600_000 },
  };
}

export function testRecord(graph: JobGraph, now = Date.now()): JobRecord {
  return {
    id: TEST_JOB_ID,
    name: graph.name,
    status: "CREATED",
    bundleHash: "ab".repeat(32),
    args: ["--x", "1"],
    graph,
    submittedAt: now,
    statusTimestamps: { CREATED: now },
    endTime: null,
  };
}
