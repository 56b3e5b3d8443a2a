import { describe, expect, it } from "vitest";
import { RiffleError } from "@riffle/shared";
import { NetworkBufferPool } from "./buffer-pool.js";
import { PartitionManager } from "./partition-manager.js";
import { ResultPartition } from "./result-partition.js";

describe("partition manager", () => {
  it("releasing a job returns the segments its finished producers still hold, and leaves other jobs alone", () => {
    const pool = new NetworkBufferPool(20, 1024);
    const partitions = new PartitionManager();
    const fill = (id: string, job: string, buffers: number) => {
      const p = new ResultPartition(id, 1, pool, () => {});
      partitions.register(p, job);
      for (let i = 0; i < buffers; i++) {
        const segment = pool.requestSegment()!;
        p.subpartition(0).add({ type: "DATA", segment, length: 0 });
      }
      p.finish();
      return p;
    };
    fill("a/e1", "job-a", 5);
    fill("a/e2", "job-a", 3);
    const other = fill("b/e1", "job-b", 4);
    expect(pool.availableSegments).toBe(8);
    partitions.releaseJob("job-a", new RiffleError("TASK_CANCELED", "cancelled"));
    expect(pool.availableSegments).toBe(16);
    expect(partitions.get("a/e1")).toBeUndefined();
    expect(partitions.get("b/e1")).toBe(other);
  });
});
