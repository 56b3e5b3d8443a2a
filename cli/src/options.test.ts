import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { loadConfig } from "@riffle/shared";
import { embeddedClusterSize } from "./commands/run.js";
import { connectHost, intArg, parseRestAddress, parseRestAddresses } from "./options.js";
import { formatDuration, formatRecord, table } from "./output.js";

describe("parseRestAddress", () => {
  it("accepts host:port, a bare host (port 8081), IPv6 and URLs", () => {
    expect(parseRestAddress("127.0.0.1:9000")).toBe("http://127.0.0.1:9000");
    expect(parseRestAddress("jobmanager")).toBe("http://jobmanager:8081");
    expect(parseRestAddress("jobmanager:80")).toBe("http://jobmanager:80");
    expect(parseRestAddress("[::1]:8082")).toBe("http://[::1]:8082");
    expect(parseRestAddress("[::1]")).toBe("http://[::1]:8081");
    expect(parseRestAddress("https://riffle.example.com/")).toBe("https://riffle.example.com");
    expect(parseRestAddress("http://10.0.0.5:8081/api")).toBe("http://10.0.0.5:8081/api");
  });

  it("refuses what is not an address", () => {
    expect(() => parseRestAddress("ftp://host:1")).toThrow(InvalidArgumentError);
    expect(() => parseRestAddress("host:99999")).toThrow(InvalidArgumentError);
    expect(() => parseRestAddress("")).toThrow(InvalidArgumentError);
  });
});

describe("parseRestAddresses", () => {
  it("takes the JobManagers of a highly available cluster, separated by commas", () => {
    expect(parseRestAddresses("a:8081,b:8082, c")).toBe("http://a:8081,http://b:8082,http://c:8081");
    expect(parseRestAddresses("127.0.0.1:9000")).toBe("http://127.0.0.1:9000");
    expect(() => parseRestAddresses("a:8081,ftp://b:1")).toThrow(InvalidArgumentError);
    expect(() => parseRestAddresses(",")).toThrow(InvalidArgumentError);
  });
});

describe("option helpers", () => {
  it("parses integers with a lower bound", () => {
    expect(intArg(1)("4")).toBe(4);
    expect(() => intArg(1)("0")).toThrow(InvalidArgumentError);
    expect(() => intArg(1)("2.5")).toThrow(InvalidArgumentError);
    expect(() => intArg(1)("x")).toThrow(InvalidArgumentError);
  });

  it("connects to loopback for wildcard bind addresses", () => {
    expect(connectHost("0.0.0.0")).toBe("127.0.0.1");
    expect(connectHost("::")).toBe("[::1]");
    expect(connectHost("10.1.2.3")).toBe("10.1.2.3");
    expect(connectHost("fe80::1")).toBe("[fe80::1]");
  });

  it("sizes the embedded cluster for the requested parallelism", () => {
    const config = loadConfig({ env: {}, file: undefined });
    expect(embeddedClusterSize(config, undefined)).toBe(2);
    expect(embeddedClusterSize(config, 1)).toBe(2);
    expect(embeddedClusterSize(config, 4)).toBe(4);
    const twoSlots = loadConfig({ env: {}, overrides: { "taskmanager.slots": 2, "cluster.taskmanagers": 1 } });
    expect(embeddedClusterSize(twoSlots, 5)).toBe(3);
  });
});

describe("output helpers", () => {
  it("prints strings as they are and everything else as JSON", () => {
    expect(formatRecord("hello")).toBe("hello");
    expect(formatRecord({ word: "a", count: 1 })).toBe('{"word":"a","count":1}');
    expect(formatRecord(3)).toBe("3");
    expect(formatRecord(null)).toBe("null");
  });

  it("formats durations for people", () => {
    expect(formatDuration(12)).toBe("12 ms");
    expect(formatDuration(4200)).toBe("4.2 s");
    expect(formatDuration(185_000)).toBe("3 m 05 s");
    expect(formatDuration(7_800_000)).toBe("2 h 10 m");
    expect(formatDuration(-1)).toBe("-");
  });

  it("aligns table columns", () => {
    const text = table(
      [{ header: "NAME" }, { header: "N", right: true }],
      [
        ["a", "1"],
        ["long name", "100"],
      ],
    );
    expect(text).toBe("NAME         N\na            1\nlong name  100\n");
  });
});
