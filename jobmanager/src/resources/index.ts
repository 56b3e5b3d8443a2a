/**
 * Resources: who starts TaskManagers, and when. The resource manager watches slot demand and asks
 * a TaskManagerProvider (`standalone`, `process`, `docker`, `kubernetes`) for TaskManagers, releases idle ones within
 * min/max, and adopts the ones a previous JobManager left.
 *
 * ```ts
 * const provider = createProvider(config, { storageDir, jobmanagerAddress, logger });
 * const rm = new ResourceManager({ provider, registry, slots, config, clock, logger });
 * await rm.start();   // reconciles, then supervises
 * await rm.close(true); // an orderly shutdown stops the provided TaskManagers
 * ```
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Logger, type Registry, type RiffleConfig, RiffleError } from "@riffle/shared";
import { currentGauge } from "../metrics/current-gauge.js";
import { DockerProvider, connect } from "./docker-provider.js";
import { findCredentials } from "./kube-credentials.js";
import { KubernetesProvider } from "./kubernetes-provider.js";
import { ProcessProvider } from "./process-provider.js";
import type { TaskManagerProvider } from "./provider.js";
import type { ResourceManager } from "./resource-manager.js";
import { StandaloneProvider } from "./standalone-provider.js";

export type { ProvidedTaskManager, ProviderExit, TaskManagerProvider } from "./provider.js";
export { ResourceManager, type ResourceManagerOptions, type RegisteredView, type SlotDemand } from "./resource-manager.js";
export { ProcessProvider, type ProcessProviderOptions } from "./process-provider.js";
export { StandaloneProvider } from "./standalone-provider.js";
export { DockerProvider, type DockerProviderOptions } from "./docker-provider.js";
export { KubernetesProvider, type KubernetesProviderOptions } from "./kubernetes-provider.js";

/** Refuses resource settings that cannot work together (CONFIG_INVALID), before the JobManager binds anything. */
export function checkResourceSettings(config: RiffleConfig): void {
  const min = config["resourcemanager.taskmanagers.min"];
  const max = config["resourcemanager.taskmanagers.max"];
  if (min > max) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `resourcemanager.taskmanagers.min (${min}) is above resourcemanager.taskmanagers.max (${max}); lower the one or raise the other`,
    );
  }
  if (config["resourcemanager.provider"] === "kubernetes") checkKubernetesSettings(config);
  if (config["resourcemanager.provider"] === "process" && !existsSync(processEntry(config))) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `resourcemanager.process.entry: ${processEntry(config)} does not exist; set it to the riffle CLI script (cli/dist/main.js) the TaskManagers should run`,
    );
  }
  checkDockerSettings(config);
}

/** Refuses a Docker daemon address the docker provider cannot use (CONFIG_INVALID). */
function checkDockerSettings(config: RiffleConfig): void {
  if (config["resourcemanager.provider"] === "docker") connect(config["resourcemanager.docker.host"]);
}

/** What the kubernetes provider cannot work without, refused at start rather than at the first pod. */
function checkKubernetesSettings(config: RiffleConfig): void {
  if (!config["resourcemanager.kubernetes.image"]) {
    throw new RiffleError("CONFIG_INVALID", "resourcemanager.kubernetes.image is empty: set it to the Riffle image the TaskManager pods run");
  }
  const kubeconfig = config["resourcemanager.kubernetes.kubeconfig"];
  if (kubeconfig && !existsSync(kubeconfig)) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `resourcemanager.kubernetes.kubeconfig: ${kubeconfig} does not exist; name a kubeconfig file, or leave it empty in a pod (its service account)`,
    );
  }
  // Credentials that cannot work (in a pod without its token, or none anywhere) are refused now.
  findCredentials(config);
  const clusterId = config["high-availability.cluster-id"];
  if (clusterId.length > 63) {
    throw new RiffleError(
      "CONFIG_INVALID",
      `high-availability.cluster-id "${clusterId}" is longer than 63 characters: the kubernetes provider labels its pods with it (a label value holds at most 63)`,
    );
  }
}

/** The `riffle` CLI script the process provider's TaskManagers run: the configured one, else the one this JobManager runs. */
function processEntry(config: RiffleConfig): string {
  return resolve(config["resourcemanager.process.entry"] || process.argv[1] || "");
}

/** The provider `resourcemanager.provider` names. */
export function createProvider(config: RiffleConfig, deps: { storageDir: string; jobmanagerAddress: string; logger: Logger }): TaskManagerProvider {
  switch (config["resourcemanager.provider"]) {
    case "standalone":
      return new StandaloneProvider();
    case "process":
      return new ProcessProvider({
        config,
        entry: processEntry(config),
        dir: config["resourcemanager.process.log-dir"] || join(deps.storageDir, "taskmanagers"),
        jobmanagerAddress: deps.jobmanagerAddress,
        logger: deps.logger,
      });
    case "docker":
      return new DockerProvider({ config, jobmanagerAddress: deps.jobmanagerAddress, logger: deps.logger });
    case "kubernetes":
      return new KubernetesProvider({ config, jobmanagerAddress: deps.jobmanagerAddress, logger: deps.logger });
  }
}

/** The resource manager's numbers on the JobManager's /metrics. */
export function registerResourceMetrics(metrics: Registry, current: () => ResourceManager | undefined): void {
  currentGauge(
    metrics,
    {
      name: "riffle_resourcemanager_taskmanagers",
      help: "TaskManagers the resource manager's provider runs, by state (starting, registered, stopping)",
      labelNames: ["provider", "state"],
    },
    current,
    (set, rm) => {
      for (const [state, n] of Object.entries(rm.states())) set({ provider: rm.providerName, state }, n);
    },
  );
  const counter = (name: string, help: string, key: keyof ResourceManager["counts"]) =>
    currentGauge(metrics, { name, help, labelNames: ["provider"] }, current, (set, rm) => set({ provider: rm.providerName }, rm.counts[key]));
  counter("riffle_resourcemanager_taskmanagers_started", "TaskManagers the provider started since the JobManager started", "started");
  counter("riffle_resourcemanager_start_failures", "TaskManager starts that failed (the provider refused or could not start one)", "startFailures");
  counter("riffle_resourcemanager_registration_timeouts", "Provided TaskManagers stopped because they did not register in time", "registrationTimeouts");
  counter("riffle_resourcemanager_taskmanagers_exited", "Provided TaskManagers that ended without being asked to", "exited");
  counter("riffle_resourcemanager_taskmanagers_released", "Provided TaskManagers stopped after being idle", "released");
}
