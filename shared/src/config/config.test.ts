import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { RiffleError } from "../errors.js";
import { configDocs, loadConfig } from "./load.js";

describe("configuration", () => {
  it("docs/configuration.md is the generated reference (run `npm run docs:config` after changing a key)", () => {
    expect(readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8")).toBe(configDocs());
  });

  it("takes defaults, then environment, then flags, parsing durations and sizes", () => {
    const c = loadConfig({
      env: { RIFFLE_REST_PORT: "9000", RIFFLE_HEARTBEAT_TIMEOUT: "3s" },
      overrides: { "rest.port": "9001", "taskmanager.memory.network.size": "8mb" },
    });
    expect(c["rest.port"]).toBe(9001);
    expect(c["heartbeat.timeout"]).toBe(3000);
    expect(c["taskmanager.memory.network.size"]).toBe(8 * 1024 * 1024);
    expect(c["pipeline.max-parallelism"]).toBe(128);
    expect(c["pipeline.auto-watermark-interval"]).toBe(200);
    expect(loadConfig({ env: { RIFFLE_PIPELINE_AUTO_WATERMARK_INTERVAL: "1s" } })["pipeline.auto-watermark-interval"]).toBe(1000);
    expect(loadConfig({ env: {}, overrides: { "pipeline.auto-watermark-interval": "0ms" } })["pipeline.auto-watermark-interval"]).toBe(0);
  });

  it("refuses unknown keys and bad values, naming the key and where it came from", () => {
    const codeAndMessage = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return `${(e as RiffleError).code}: ${(e as RiffleError).message}`;
      }
      return "no error";
    };
    expect(codeAndMessage(() => loadConfig({ env: { RIFFLE_REST_PORT: "eighty" } }))).toMatch(
      /^CONFIG_INVALID: invalid value "eighty" for rest.port \(from environment variable RIFFLE_REST_PORT\)/,
    );
    expect(codeAndMessage(() => loadConfig({ env: {}, overrides: { "rest.prot": 1 } }))).toMatch(/^CONFIG_INVALID: unknown configuration key "rest.prot"/);
    expect(codeAndMessage(() => loadConfig({ env: {}, overrides: { "heartbeat.timeout": "soon" } }))).toMatch(/invalid duration "soon"/);
    expect(codeAndMessage(() => loadConfig({ env: {}, overrides: { "taskmanager.network.memory": "8mb" } }))).toBe(
      'CONFIG_INVALID: configuration key "taskmanager.network.memory" in flags was renamed to taskmanager.memory.network.size.',
    );
  });
});
