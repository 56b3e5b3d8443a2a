import { describe, expect, it } from "vitest";
import { ResultBuffer } from "./result-buffer.js";

describe("ResultBuffer", () => {
  it("appends batches once per sequence and reads from a cursor", async () => {
    const b = new ResultBuffer(100);
    await b.push("e0", 0, [1, 2]);
    await b.push("e0", 0, [1, 2]);
    await b.push("e1", 0, [10]);
    await b.push("e0", 1, [3]);
    expect(b.read(0, 10)).toEqual({ records: [1, 2, 10, 3], nextCursor: 4, drained: false });
    expect(b.read(1, 2)).toEqual({ records: [2, 10], nextCursor: 3, drained: false });
    b.end();
    expect(b.read(3, 10)).toEqual({ records: [3], nextCursor: 4, drained: true });
    expect(b.read(4, 10)).toEqual({ records: [], nextCursor: 4, drained: true });
  });

  it("holds a push back while too many records are unread, until a read acknowledges them", async () => {
    const b = new ResultBuffer(3);
    await b.push("e0", 0, [1, 2, 3]);
    let answered = false;
    const pending = b.push("e0", 1, [4, 5]).then(() => {
      answered = true;
    });
    await Promise.resolve();
    expect(answered).toBe(false);
    expect(b.read(0, 2).records).toEqual([1, 2]);
    await Promise.resolve();
    expect(answered).toBe(false);
    expect(b.read(2, 10).records).toEqual([3, 4, 5]);
    await pending;
    expect(b.buffered).toBe(3);
  });

  it("releases waiting pushes when the job ends", async () => {
    const b = new ResultBuffer(1);
    const pending = b.push("e0", 0, [1, 2, 3]);
    b.end();
    await pending;
    expect(b.read(0, 10)).toEqual({ records: [1, 2, 3], nextCursor: 3, drained: true });
  });

  it("wakes a waiting reader on new records and on the end", async () => {
    const b = new ResultBuffer(10);
    const waiting = b.waitForRecords(0, 60_000);
    await b.push("e0", 0, ["x"]);
    await waiting;
    const waitingForEnd = b.waitForRecords(1, 60_000);
    b.end();
    await waitingForEnd;
    expect(b.read(0, 10).drained).toBe(true);
  });
});
