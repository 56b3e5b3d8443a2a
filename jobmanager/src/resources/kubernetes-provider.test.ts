import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, type Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig } from "@riffle/shared";
import { describe, expect, it } from "vitest";
import { KubernetesProvider, podName } from "./kubernetes-provider.js";

describe("TaskManager pod names", () => {
  it("are valid DNS labels whatever the cluster id, and keep the TaskManager id whole", () => {
    expect(podName("default", "taskmanager-1a2b3c4d")).toBe("riffle-default-taskmanager-1a2b3c4d");
    expect(podName("Prod_EU.1", "taskmanager-1a2b3c4d")).toBe("riffle-prod-eu-1-taskmanager-1a2b3c4d");
    const long = podName("a".repeat(63), "taskmanager-1a2b3c4d");
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long.endsWith("-taskmanager-1a2b3c4d")).toBe(true);
    for (const name of [long, podName("-x-", "taskmanager-0")]) expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});

describe("Kubernetes API calls", () => {
  it("have deadlines: an API server that accepts and never answers fails list and start with PROVIDER_FAILED, and close(true) returns", async () => {
    // A real socket that takes connections and requests and never answers (an API server behind a hung proxy).
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), "riffle-k8s-silent-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{ name: silent, cluster: { server: 'http://127.0.0.1:" + port + "', insecure-skip-tls-verify: true } }]",
        "users: [{ name: u, user: { token: t } }]",
        "contexts: [{ name: c, context: { cluster: silent, user: u, namespace: default } }]",
        "current-context: c",
      ].join("\n"),
    );
    const logger = createLogger("test");
    logger.level = "silent";
    const config = loadConfig({ env: {}, overrides: { "resourcemanager.provider": "kubernetes", "resourcemanager.kubernetes.kubeconfig": kubeconfig } });
    const provider = new KubernetesProvider({ config, jobmanagerAddress: "127.0.0.1:1", logger, callTimeoutMs: 1_500 });
    try {
      const listFails = {
        code: "PROVIDER_FAILED",
        message: expect.stringMatching(/cannot list the TaskManager pods.*did not answer \(no answer before the call.s deadline\)/),
      };
      await expect(provider.list()).rejects.toMatchObject(listFails); // the first loads the client too
      // A list gets a third of the call deadline: the resource manager retries reconciling soon.
      const listStarted = Date.now();
      await expect(provider.list()).rejects.toMatchObject(listFails);
      expect(Date.now() - listStarted).toBeGreaterThanOrEqual(450);
      expect(Date.now() - listStarted).toBeLessThan(1_400);
      await expect(provider.start("taskmanager-1")).rejects.toMatchObject({
        code: "PROVIDER_FAILED",
        message: expect.stringMatching(/cannot create TaskManager pod .*did not answer/),
      });
      expect(sockets.size).toBeGreaterThan(0);
      const closeStarted = Date.now();
      await provider.close(true);
      expect(Date.now() - closeStarted).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
