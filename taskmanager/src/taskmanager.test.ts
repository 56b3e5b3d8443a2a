import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, freePort, loadConfig } from "@riffle/shared";
import { afterAll, describe, expect, it } from "vitest";
import { TaskManager } from "./taskmanager.js";

const work = mkdtempSync(join(tmpdir(), "riffle-taskmanager-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Resolves once `port` can be bound again on 127.0.0.1 (and frees it): nothing listens there any more. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("TaskManager", () => {
  it("that cannot make its work directory fails with WORKDIR_FAILED and leaves no server listening", async () => {
    const notADirectory = join(work, "a-regular-file");
    writeFileSync(notADirectory, "x");
    const [rpcPort, metricsPort] = [await freePort(), await freePort()];
    const config = loadConfig({
      env: {},
      overrides: {
        "taskmanager.host": "127.0.0.1",
        "taskmanager.rpc.port": rpcPort,
        "taskmanager.metrics.port": metricsPort,
        "taskmanager.tmp.dir": join(notADirectory, "tmp"),
      },
    });
    const log = createLogger("taskmanager-test");
    log.level = "silent";
    await expect(TaskManager.create(config, log)).rejects.toMatchObject({ code: "WORKDIR_FAILED" });
    expect(await bindable(rpcPort)).toBe(true);
    expect(await bindable(metricsPort)).toBe(true);
  });
});
