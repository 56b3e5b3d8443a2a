import { describe, expect, it } from "vitest";
import { parseBrokerArgs } from "./args.js";

describe("parseBrokerArgs", () => {
  it("reads the advertised address clients are sent to, and refuses a port that cannot be one", () => {
    expect(parseBrokerArgs(["--data-dir", "/tmp/k", "--port", "0", "--advertised-host", "kafka", "--advertised-port", "19092"])).toMatchObject({
      dataDir: "/tmp/k",
      port: 0,
      advertisedHost: "kafka",
      advertisedPort: 19092,
    });
    expect(parseBrokerArgs(["--data-dir", "/tmp/k"]).advertisedPort).toBeUndefined();
    expect(() => parseBrokerArgs(["--data-dir", "/tmp/k", "--advertised-port", "0"])).toThrow("--advertised-port needs an integer of at least 1");
    expect(() => parseBrokerArgs(["--data-dir", "/tmp/k", "--advertised-port", "70000"])).toThrow("--advertised-port must be at most 65535");
  });
});
