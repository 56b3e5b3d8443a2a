import { RiffleError, freePort } from "@riffle/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ResultPartition } from "./result-partition.js";
import { ExchangeHarness, produce } from "../testing/exchange-harness.js";

/**
 * How a channel reading a partition of another TaskManager fails (decision 0018): it asks the
 * producer's TaskManager where the partition is served (Locate), then streams from that slot's data
 * server. The codes are those a partition request had when the main threads relayed the streams.
 */
const harness = new ExchangeHarness();
afterEach(() => harness.cleanUp());

function codeOf(err: Error | undefined): string | undefined {
  return err instanceof RiffleError ? err.code : undefined;
}

describe("streams between slots of two TaskManagers", () => {
  it("a partition that is never produced fails the channel with PARTITION_NOT_FOUND after the partition-request timeout", async () => {
    const prod = await harness.producerSide(100, 300);
    const cons = harness.consumerSide(100, 8);
    const started = Date.now();
    cons.channel(0, prod.address, "never-produced", 0);
    await vi.waitFor(() => expect(cons.failures).toHaveLength(1), { timeout: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(codeOf(cons.failures[0])).toBe("PARTITION_NOT_FOUND");
    expect(cons.failures[0]!.message).toMatch(/partition never-produced was not produced on this TaskManager within 300 ms/);
  });

  it("a TaskManager that does not answer fails the channel with CONNECTION_LOST", async () => {
    const cons = harness.consumerSide(100, 8);
    cons.channel(0, `127.0.0.1:${await freePort()}`, "p", 0);
    await vi.waitFor(() => expect(cons.failures).toHaveLength(1), { timeout: 10_000 });
    expect(codeOf(cons.failures[0])).toBe("CONNECTION_LOST");
  });

  it("a producer's data server that goes away in the middle of a stream fails the channel with CONNECTION_LOST", async () => {
    const prod = await harness.producerSide(100);
    const partition = new ResultPartition("p1", 1, prod.pool, () => {});
    prod.partitions.register(partition, "job");
    produce(partition, 20);
    const cons = harness.consumerSide(100, 8);
    const ch = cons.channel(0, prod.address, "p1", 0);
    await vi.waitFor(() => expect(ch.buffersReceived).toBeGreaterThan(0), { timeout: 5000 });
    expect(cons.failures).toEqual([]);
    prod.stop();
    await vi.waitFor(() => expect(cons.failures).toHaveLength(1), { timeout: 5000 });
    expect(codeOf(cons.failures[0])).toBe("CONNECTION_LOST");
    expect(cons.failures[0]!.message).toMatch(/lost sub 0/);
  });
});
