import { describe, expect, it } from "vitest";
import { compareFencingTokens, fencingToken, fencingTokenParts, isOlderFencingToken, parseFencingToken } from "./fencing.js";

describe("fencing tokens", () => {
  it("order leaderships by epoch numerically, whatever the number of digits, then by lease id", () => {
    const old = fencingToken(9n, "ffffffffffffffff");
    const newer = fencingToken(10n, "0000000000000001");
    expect(isOlderFencingToken(old, newer)).toBe(true);
    expect(isOlderFencingToken(newer, old)).toBe(false);
    expect(isOlderFencingToken(newer, newer)).toBe(false);
    expect(compareFencingTokens(fencingToken(10n, "2"), newer)).toBe(1);
    expect([newer, old].sort(compareFencingTokens)).toEqual([old, newer]);
  });

  it("round-trips through its string form", () => {
    const token = fencingToken(2n ** 63n - 1n, 0x694d8b1a4c2e3f01n);
    expect(token).toBe("09223372036854775807-694d8b1a4c2e3f01");
    expect(parseFencingToken(token)).toBe(token);
    expect(fencingTokenParts(token)).toEqual({ epoch: 2n ** 63n - 1n, leaseId: "694d8b1a4c2e3f01" });
  });

  it("refuses what is not a token, naming it", () => {
    expect(() => parseFencingToken("12-ab")).toThrow(/"12-ab" is not a fencing token/);
    expect(() => fencingToken(-1n, "1")).toThrow(/out of range/);
    expect(() => fencingToken(1n, 2n ** 64n)).toThrow(/out of range/);
  });
});
