import { describe, expect, it } from "vitest";
import { NetworkBufferPool } from "./buffer-pool.js";
import type { CheckpointBarrier } from "./buffer.js";
import { InputGate } from "./input-gate.js";
import { LocalInputChannel } from "./local-channel.js";
import { PartitionManager } from "./partition-manager.js";
import { ResultPartition } from "./result-partition.js";

const barrier = (checkpointId: number): CheckpointBarrier => ({ type: "CHECKPOINT_BARRIER", checkpointId, timestamp: 0, targetDir: "", isSavepoint: false });

describe("InputGate and in-band events", () => {
  it("keeps a blocked channel's watermarks queued behind its barrier until alignment ends; local buffers pass as they are", async () => {
    const pool = new NetworkBufferPool(10, 1024);
    const partitions = new PartitionManager();
    const partition = new ResultPartition("p", 2, pool, () => {});
    partitions.register(partition, "job");
    const gate = new InputGate(0, pool, 0);
    const channels = [0, 1].map((i) => new LocalInputChannel(i, `sub ${i}`, gate));
    for (const c of channels) gate.addChannel(c);
    await Promise.all(channels.map((c, i) => c.connect(partitions, "p", i, 1000)));

    const [s0, s1] = partition.subpartitions;
    const batch = { type: "DATA" as const, records: ["r"], timestamps: [42] };
    s0!.add(barrier(1));
    s0!.add({ type: "WATERMARK", timestamp: 10 });
    s0!.add({ type: "WATERMARK_STATUS", idle: true });
    expect(pool.tryRequest()).toBe(true); // a queued data buffer holds a pool buffer
    s1!.add(batch);

    const first = gate.pollNext();
    expect(first).toEqual({ channel: 0, buffer: barrier(1) });
    gate.block(0); // what the aligner does on barrier 1 of channel 0
    // Channel 0's events wait behind its barrier; channel 1 flows, its batch the producer's own object.
    expect(gate.pollNext()?.buffer).toBe(batch);
    expect(gate.pollNext()).toBeUndefined();
    gate.unblockAll();
    expect(gate.pollNext()).toEqual({ channel: 0, buffer: { type: "WATERMARK", timestamp: 10 } });
    expect(gate.pollNext()).toEqual({ channel: 0, buffer: { type: "WATERMARK_STATUS", idle: true } });
    expect(gate.pollNext()).toBeUndefined();
  });
});
