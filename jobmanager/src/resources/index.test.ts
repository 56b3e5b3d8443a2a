import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Logger, loadConfig } from "@riffle/shared";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../testing/fixtures.js";
import { createProvider, onlyReachableHere, processProviderDir, providedTaskManagerAddress } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "riffle-resources-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = (overrides: Record<string, unknown>) => loadConfig({ env: {}, file: "/dev/null", overrides });

/** A logger that keeps its warnings' messages. */
function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger = Object.create(silentLogger) as Logger;
  logger.warn = ((_obj: unknown, msg?: string) => {
    warnings.push(String(msg));
  }) as Logger["warn"];
  return { logger, warnings };
}

describe("where provided TaskManagers find the JobManager", () => {
  it("is every JobManager when taskmanager.jobmanager.address lists them, as for TaskManagers started by hand; else this one", () => {
    expect(providedTaskManagerAddress(config({ "taskmanager.jobmanager.address": "a:6123,b:6123" }), "a:6123")).toBe("a:6123,b:6123");
    expect(providedTaskManagerAddress(config({}), "10.0.0.5:6123")).toBe("10.0.0.5:6123");
  });

  it("warns with high availability when the TaskManagers would know only this JobManager", () => {
    const ha = {
      "high-availability.type": "etcd",
      "high-availability.etcd.endpoints": "127.0.0.1:2379",
      "high-availability.storageDir": join(dir, "ha"),
      "resourcemanager.provider": "process",
    };
    const alone = recordingLogger();
    createProvider(config(ha), { storageDir: dir, jobmanagerAddress: "127.0.0.1:6123", logger: alone.logger });
    expect(alone.warnings).toEqual([
      expect.stringMatching(/know only this JobManager \(127.0.0.1:6123\) and cannot follow another leader.*set taskmanager.jobmanager.address/),
    ]);
    const listed = recordingLogger();
    createProvider(config({ ...ha, "taskmanager.jobmanager.address": "127.0.0.1:6123,127.0.0.1:6124" }), {
      storageDir: dir,
      jobmanagerAddress: "127.0.0.1:6123",
      logger: listed.logger,
    });
    expect(listed.warnings).toEqual([]);
    const service = recordingLogger();
    createProvider(
      config({
        ...ha,
        "resourcemanager.provider": "kubernetes",
        "resourcemanager.kubernetes.image": "riffle:1",
        "resourcemanager.kubernetes.jobmanager.address": "riffle-jobmanager:6123",
      }),
      { storageDir: dir, jobmanagerAddress: "10.0.0.1:6123", logger: service.logger },
    );
    expect(service.warnings).toEqual([]);
  });

  it("the process provider records its TaskManagers in the cluster's HA storage with high availability, else in the JobManager's", () => {
    const ha = { "high-availability.type": "etcd", "high-availability.etcd.endpoints": "127.0.0.1:2379", "high-availability.cluster-id": "c1" };
    expect(processProviderDir(config({ ...ha, "high-availability.storageDir": "/shared/ha" }), "/jm-1")).toBe(join("/shared/ha", "c1", "taskmanagers"));
    expect(processProviderDir(config({}), "/jm-1")).toBe(join("/jm-1", "taskmanagers"));
    expect(processProviderDir(config({ ...ha, "resourcemanager.process.log-dir": "/logs/tm" }), "/jm-1")).toBe("/logs/tm");
  });

  it("kubernetes: warns when pods would be told a loopback or unspecified address (no resourcemanager.kubernetes.jobmanager.address)", () => {
    expect(onlyReachableHere("127.0.0.1:6123")).toBe(true);
    expect(onlyReachableHere("jm-0.riffle:6123,localhost:6123")).toBe(true);
    expect(onlyReachableHere("0.0.0.0:6123")).toBe(true);
    expect(onlyReachableHere("[::1]:6123")).toBe(true);
    expect(onlyReachableHere("10.1.2.3:6123,riffle-jobmanager:6123")).toBe(false);
    const k8s = { "resourcemanager.provider": "kubernetes", "resourcemanager.kubernetes.image": "riffle:1" };
    const loopback = recordingLogger();
    createProvider(config(k8s), { storageDir: dir, jobmanagerAddress: "127.0.0.1:6123", logger: loopback.logger });
    expect(loopback.warnings).toEqual([
      expect.stringMatching(
        /^resourcemanager.kubernetes.jobmanager.address is empty, so TaskManager pods are told to register at 127.0.0.1:6123, which a pod cannot reach .*set resourcemanager.kubernetes.jobmanager.address to a Service/,
      ),
    ]);
    for (const fine of [
      { ...k8s, "resourcemanager.kubernetes.jobmanager.address": "riffle-jobmanager:6123" },
      { ...k8s, "jobmanager.rpc.address": "10.1.2.3" },
    ]) {
      const { logger, warnings } = recordingLogger();
      createProvider(config(fine), { storageDir: dir, jobmanagerAddress: `${fine["jobmanager.rpc.address"] ?? "127.0.0.1"}:6123`, logger });
      expect(warnings).toEqual([]);
    }
  });
});
