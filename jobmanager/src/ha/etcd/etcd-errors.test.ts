import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, loadConfig } from "@riffle/shared";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../testing/fixtures.js";
import { etcdServices } from "../../testing/ha-fixtures.js";
import { RecordingContender } from "../../testing/recording-contender.js";
import { createHighAvailabilityServices } from "../index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "riffle-ha-"));
  dirs.push(dir);
  return dir;
}

/** Settings pointing at `endpoint`, which is not a running etcd. */
function settingsFor(endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "high-availability.type": "etcd",
    "high-availability.cluster-id": "errors",
    "high-availability.etcd.endpoints": endpoint,
    "high-availability.etcd.lease-ttl": "1s",
    "high-availability.etcd.call-timeout": "400ms",
    "high-availability.storageDir": tempDir(),
    ...extra,
  };
}

describe("HA services when etcd is not there", () => {
  const open: Array<{ close(): Promise<void> }> = [];
  let server: Server | undefined;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  it("starts when etcd is unreachable, and its campaign reports HA_UNAVAILABLE naming the endpoint", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const ha = await etcdServices(settingsFor(endpoint), "lonely");
    open.push(ha);
    const contender = new RecordingContender("lonely");
    ha.leaderElection.start(contender);
    const event = await contender.waitFor((e) => e.type === "error", 5_000, "campaign error");
    expect(event).toMatchObject({
      error: { code: "HA_UNAVAILABLE", message: expect.stringMatching(new RegExp(`^etcd unreachable at ${endpoint} \\(grant a lease\\)`)) },
    });
    expect(ha.leaderElection.state).toBe("campaigning");
  });

  it("fails a store read within its deadline with HA_UNAVAILABLE naming the endpoints", async () => {
    const endpoints = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const ha = await etcdServices(settingsFor(endpoints.join(",")), "reader");
    open.push(ha);
    const started = Date.now();
    await expect(ha.connection.call("read something", (options) => ha.connection.ns.get("x").options(options).exec())).rejects.toMatchObject({
      code: "HA_UNAVAILABLE",
      message: expect.stringContaining(`etcd unreachable at ${endpoints.join(", ")} (read something)`),
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("refuses endpoints that answer but are not etcd", async () => {
    server = createServer((_req, res) => res.end("not etcd"));
    const port = await new Promise<number>((resolve) => server!.listen(0, "127.0.0.1", () => resolve((server!.address() as { port: number }).port)));
    const config = loadConfig({ env: {}, overrides: settingsFor(`127.0.0.1:${port}`) });
    await expect(createHighAvailabilityServices(config, { leaderId: "x", logger: silentLogger })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining(`high-availability.etcd.endpoints: http://127.0.0.1:${port} answered, but not as etcd`),
    });
  });

  it("refuses a storage directory it cannot write, and settings that do not fit together", async () => {
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    await expect(
      createHighAvailabilityServices(loadConfig({ env: {}, overrides: settingsFor(endpoint, { "high-availability.storageDir": join(file, "ha") }) }), {
        leaderId: "x",
        logger: silentLogger,
      }),
    ).rejects.toMatchObject({ code: "HA_STORAGE_FAILED", message: expect.stringContaining(`high-availability.storageDir ${join(file, "ha")}`) });
    await expect(
      createHighAvailabilityServices(loadConfig({ env: {}, overrides: settingsFor(endpoint, { "high-availability.etcd.call-timeout": "600ms" }) }), {
        leaderId: "x",
        logger: silentLogger,
      }),
    ).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining("must be at most half of high-availability.etcd.lease-ttl") });
  });
});
