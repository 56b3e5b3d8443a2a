import { describe, expect, it } from "vitest";
import { NetworkBufferPool } from "./buffer-pool.js";
import type { CheckpointBarrier } from "./buffer.js";
import { InputGate } from "./input-gate.js";
import { LocalInputChannel } from "./local-channel.js";
import { PartitionManager } from "./partition-manager.js";
import { ResultPartition } from "./result-partition.js";
import { writerOf } from "../testing/exchange-harness.js";

const barrier = (checkpointId: number): CheckpointBarrier => ({ type: "CHECKPOINT_BARRIER", checkpointId, timestamp: 0, targetDir: "", isSavepoint: false });

describe("InputGate and in-band events", () => {
  it("keeps a blocked channel's watermarks queued behind its barrier until alignment ends; local segments are decoded in place", async () => {
    const pool = new NetworkBufferPool(10, 1024);
    const partitions = new PartitionManager();
    const partition = new ResultPartition("p", 2, pool, () => {});
    partitions.register(partition, "job");
    const gate = new InputGate(0, pool, 0);
    const channels = [0, 1].map((i) => new LocalInputChannel(i, `sub ${i}`, gate));
    for (const c of channels) gate.addChannel(c);
    await Promise.all(channels.map((c, i) => c.connect(partitions, "p", i, 1000)));

    const [s0] = partition.subpartitions;
    s0!.add(barrier(1));
    s0!.add({ type: "WATERMARK", timestamp: 10 });
    s0!.add({ type: "WATERMARK_STATUS", idle: true });
    // Rebalance from subtask 0 starts at subpartition 0: a record each for 0 and 1, flushed.
    const writer = writerOf(partition, "rebalance");
    writer.collect("ignored, behind the events of channel 0");
    writer.collect("r", 42);
    writer.flush();
    expect(pool.availableSegments).toBe(8); // each queued segment holds one of the pool's

    const first = gate.pollNext();
    expect(first).toEqual({ channel: 0, buffer: barrier(1) });
    gate.block(0); // what the aligner does on barrier 1 of channel 0
    // Channel 0's events wait behind its barrier; channel 1 flows, its segment decoded and returned.
    const data = gate.pollNext()?.buffer;
    expect(data?.type === "DATA" && [data.records, data.timestamps]).toEqual([["r"], [42]]);
    expect(pool.availableSegments).toBe(9);
    expect(gate.pollNext()).toBeUndefined();
    gate.unblockAll();
    expect(gate.pollNext()).toEqual({ channel: 0, buffer: { type: "WATERMARK", timestamp: 10 } });
    expect(gate.pollNext()).toEqual({ channel: 0, buffer: { type: "WATERMARK_STATUS", idle: true } });
    expect(gate.pollNext()?.buffer).toMatchObject({ type: "DATA", records: ["ignored, behind the events of channel 0"] });
    expect(gate.pollNext()).toBeUndefined();
  });
});
