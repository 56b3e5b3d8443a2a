import { mkdtempSync, rmSync } from "node:fs";
import { type IncomingMessage, createServer as createHttpServer } from "node:http";
import { type Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, loadConfig } from "@riffle/shared";
import { afterAll, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../testing/fixtures.js";
import { DockerProvider, connect, containerEnv } from "./docker-provider.js";
import { checkResourceSettings, createProvider } from "./index.js";
import { ResourceManager } from "./resource-manager.js";

/** What the docker provider does without a daemon; with one, e2e/docker-provider.test.ts. */
const dir = mkdtempSync(join(tmpdir(), "riffle-docker-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = (overrides: Record<string, unknown>) =>
  loadConfig({ env: {}, file: "/dev/null", overrides: { "resourcemanager.provider": "docker", ...overrides } });

describe("docker provider", () => {
  it("reads the daemon's address as a socket path, unix:// or tcp://, and refuses others at start", () => {
    expect(connect("/run/x.sock").daemon).toBe("unix:///run/x.sock");
    expect(connect("unix:///run/x.sock").daemon).toBe("unix:///run/x.sock");
    expect(connect("tcp://127.0.0.1:2375").daemon).toBe("tcp://127.0.0.1:2375");
    expect(() => checkResourceSettings(config({ "resourcemanager.docker.host": "https://docker.example:2376" }))).toThrow(
      /resourcemanager.docker.host: https:\/\/docker.example:2376 is not a Docker daemon address the docker provider can use; expected a socket path, unix:\/\/\/path or tcp:\/\/host:port/,
    );
  });

  it("refuses a start and a list with PROVIDER_FAILED naming the daemon it cannot reach", async () => {
    const sock = join(dir, "no-docker.sock");
    const provider = new DockerProvider({
      config: config({ "resourcemanager.docker.host": sock }),
      jobmanagerAddress: "127.0.0.1:6123",
      logger: silentLogger,
    });
    // Not an empty list: the resource manager must not take "unknown" for "nothing to adopt".
    await expect(provider.list()).rejects.toMatchObject({
      code: "PROVIDER_FAILED",
      message: `cannot reach the Docker daemon at unix://${sock} (ENOENT) to list the cluster's TaskManager containers: start dockerd, or point resourcemanager.docker.host (or DOCKER_HOST) at a running one`,
    });
    await expect(provider.start("taskmanager-x")).rejects.toMatchObject({
      code: "PROVIDER_FAILED",
      message: `cannot reach the Docker daemon at unix://${sock} (ENOENT) to create the container of TaskManager taskmanager-x: start dockerd, or point resourcemanager.docker.host (or DOCKER_HOST) at a running one`,
    });
    await provider.close(true);
  });

  it("gives up on a daemon that accepts the connection and never answers, saying so", async () => {
    // A socket that takes requests and answers none: a stuck daemon.
    const sock = join(dir, "stuck-docker.sock");
    const held: Socket[] = [];
    const server = createServer((c) => held.push(c));
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const provider = new DockerProvider({
        config: config({ "resourcemanager.docker.host": sock }),
        jobmanagerAddress: "127.0.0.1:6123",
        logger: silentLogger,
        callTimeoutMs: 300,
      });
      await expect(provider.start("taskmanager-x")).rejects.toMatchObject({
        code: "PROVIDER_FAILED",
        message: `the Docker daemon at unix://${sock} did not answer within 0.3 s when asked to create the container of TaskManager taskmanager-x; is it overloaded or stuck?`,
      });
      await provider.close(true);
    } finally {
      for (const c of held) c.destroy();
      server.close();
    }
  });

  it("a resource manager on a daemon that is down does not count as reconciled: it starts nothing and counts no extra slots until a list answers", async () => {
    const sock = join(dir, "down-docker.sock");
    const provider = new DockerProvider({ config: config({ "resourcemanager.docker.host": sock }), jobmanagerAddress: "127.0.0.1:6123", logger: silentLogger });
    const clock = new ManualClock(0);
    const rm = new ResourceManager({
      provider,
      registry: { get: () => undefined, slotCounts: () => ({ slotsAvailable: 0 }), takeOutOfPool: () => false, returnToPool: () => {} },
      slots: { pendingSlots: () => 2 },
      config: config({ "resourcemanager.docker.host": sock, "resourcemanager.taskmanagers.max": 2 }),
      clock,
      logger: silentLogger,
    });
    await rm.start();
    await vi.waitFor(() => expect(rm.failure).toMatch(/cannot list its TaskManagers: PROVIDER_FAILED: cannot reach the Docker daemon/), { timeout: 10_000 });
    expect(rm.holdReason).toBeDefined();
    expect(rm.extraSlots()).toBe(0);
    expect(rm.counts.startFailures).toBe(0); // nothing started while what runs is unknown
    await rm.close(false);
  });

  it("gives a container every JobManager's address and the RIFFLE_* variables a TaskManager may see, never the REST tokens", async () => {
    // A daemon that answers create and start as Docker does and records what it was asked (wait stays open, as for a running container).
    const sock = join(dir, "recording-docker.sock");
    const created: Array<{ Cmd: string[]; Env: string[] }> = [];
    const held: IncomingMessage[] = [];
    const server = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      req.on("end", () => {
        if (req.method === "POST" && req.url?.startsWith("/containers/create")) {
          created.push(JSON.parse(body) as { Cmd: string[]; Env: string[] });
          res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ Id: "c1", Warnings: [] }));
        } else if (req.method === "POST" && req.url === "/containers/c1/start") {
          res.writeHead(204).end();
        } else if (req.method === "POST" && req.url?.startsWith("/containers/c1/wait")) {
          held.push(req);
        } else {
          res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ message: `unexpected ${req.method} ${req.url}` }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    const env = { ...process.env };
    try {
      process.env.RIFFLE_REST_AUTH_OPERATOR_TOKEN = "s3cret";
      process.env.RIFFLE_REST_CLIENT_TOKEN = "s3cret-too";
      process.env.RIFFLE_RESOURCEMANAGER_DOCKER_IMAGE = "riffle:test";
      process.env.RIFFLE_TASKMANAGER_ID = "not-its-id";
      process.env.RIFFLE_STATE_BACKEND = "leveldb";
      process.env.RIFFLE_LOG_LEVEL = "debug";
      const addresses = "10.0.0.1:6123,10.0.0.2:6123,10.0.0.3:6123";
      const provider = createProvider(
        config({
          "resourcemanager.docker.host": sock,
          "high-availability.type": "etcd",
          "high-availability.etcd.endpoints": "127.0.0.1:2379",
          "taskmanager.jobmanager.address": addresses,
        }),
        { storageDir: dir, jobmanagerAddress: "10.0.0.1:6123", logger: silentLogger },
      );
      await provider.start("taskmanager-a");
      expect(created).toHaveLength(1);
      const { Cmd, Env } = created[0]!;
      expect(Cmd).toContain(`taskmanager.jobmanager.address=${addresses}`);
      expect(Cmd.filter((a) => a.startsWith("taskmanager.jobmanager.address="))).toHaveLength(1);
      expect(Env.sort()).toEqual(["RIFFLE_LOG_LEVEL=debug", "RIFFLE_STATE_BACKEND=leveldb"]);
      expect(JSON.stringify(created[0])).not.toContain("s3cret");
      await provider.close(false);
    } finally {
      process.env = env;
      server.closeAllConnections();
      server.close();
    }
  });

  it("passes RIFFLE_* variables as the TaskManager's settings are inherited", () => {
    expect(
      containerEnv({
        PATH: "/usr/bin",
        RIFFLE_REST_AUTH_READ_ONLY_TOKEN: "t",
        RIFFLE_JOB_AUTOSCALER_ENABLED: "true",
        RIFFLE_TASKMANAGER_RPC_PORT: "7000",
        RIFFLE_TASKMANAGER_SLOTS: "4",
        RIFFLE_DEBUG: "network",
        RIFFLE_SOMETHING_ELSE: "x",
      }),
    ).toEqual(["RIFFLE_TASKMANAGER_SLOTS=4", "RIFFLE_DEBUG=network"]);
  });
});
