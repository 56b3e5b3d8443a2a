import type {
  ApiException,
  AppsV1Api,
  ConfigurationOptions,
  CoreV1Api,
  Informer,
  KubeConfig,
  RequestContext,
  ResponseContext,
  V1EnvVar,
  V1OwnerReference,
  V1Pod,
} from "@kubernetes/client-node";
import { type Logger, RiffleError, type RiffleConfig, envVarName } from "@riffle/shared";
import { type KubeCredentials, describeCredentials, findCredentials, loadKubeConfig, podNamespace, unauthorizedHint } from "./kube-credentials.js";
import { inheritedValues, settlesWithin } from "./process-provider.js";
import type { ProvidedTaskManager, ProviderExit, TaskManagerProvider } from "./provider.js";

/** The client, loaded when first needed: importing it costs seconds, which JobManagers of other providers need not pay. */
interface Client {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  makeInformer: typeof import("@kubernetes/client-node").makeInformer;
  /** The client's own Observable, which per-call middleware returns. */
  Observable: typeof import("@kubernetes/client-node").Observable;
}

export interface KubernetesProviderOptions {
  config: RiffleConfig;
  /** host:port of this JobManager's gRPC server (unless resourcemanager.kubernetes.jobmanager.address says otherwise). */
  jobmanagerAddress: string;
  logger: Logger;
  /** How long a Kubernetes API call may take (default 30 s); a list, which the resource manager waits on to reconcile, gets a third of it. */
  callTimeoutMs?: number;
}

/** Labels of every TaskManager pod: the cluster's pods are listed and watched by the first three. */
export const LABELS = {
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  cluster: "riffle.io/cluster-id",
  taskmanager: "riffle.io/taskmanager-id",
} as const;

/** Settings a pod's TaskManager gets its own value for, whatever the JobManager's configuration says. */
const OWN_KEYS = new Set(["taskmanager.id", "taskmanager.jobmanager.address", "taskmanager.host", "taskmanager.rpc.port", "taskmanager.metrics.port"]);

/** Container states that will not get better by waiting: the pod is a failed start. */
const STUCK_REASONS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
]);

/** How long the watch waits before it lists and watches again after the API failed it: doubles up to a minute. */
const WATCH_RETRY_MS = 1_000;
const MAX_WATCH_RETRY_MS = 60_000;
/** How long an API call may take by default, as the Docker provider's: an API server that accepts and stays silent fails the call instead of freezing the resource manager. */
const CALL_TIMEOUT_MS = 30_000;
/** How long close(true) waits for the pods to go before it leaves them to Kubernetes. */
const CLOSE_TIMEOUT_MS = 60_000;

/**
 * A pod this provider runs, from its creation (or adoption) until it is gone:
 *
 *   running ──stop()──► stopping ──DELETED──► (gone)
 *      └── Failed / Succeeded / stuck waiting / DELETED by someone else ──► (gone; reported to the listener, the pod deleted)
 */
interface Tracked {
  id: string;
  pod: string;
  startedAt: number;
  stopping: boolean;
  gone: Promise<void>;
  markGone: () => void;
}

/**
 * `kubernetes`: TaskManagers as pods (Flink's KubernetesResourceManagerDriver), created through the
 * Kubernetes API with @kubernetes/client-node. Each pod is labelled with the cluster id and its
 * TaskManager id, runs the configured image (`taskmanager` after its entrypoint or the configured
 * command) with the JobManager's settings as RIFFLE_* variables and its own id, the JobManager's
 * address and its pod IP (the downward API), requests and limits cpu and memory, and may be owned by
 * the JobManager's Deployment. `restartPolicy: Never`: a TaskManager that ends is replaced by the
 * resource manager with a new pod, not restarted in place, so its slots are counted once.
 *
 * On start it lists the cluster's pods: live ones are adopted (they register again by themselves),
 * ended ones deleted. An informer (list + watch, which resumes from its resourceVersion and lists
 * again on 410 Gone) notices pods that fail, succeed, cannot start their container, or are deleted
 * by someone else. A pod the API refuses (422 invalid, 403 quota or RBAC) fails the start with the
 * API's own message, so the resource manager backs off and the job's failure says why.
 */
export class KubernetesProvider implements TaskManagerProvider {
  readonly name = "kubernetes";
  private client: Promise<Client> | undefined;
  private server = "(the Kubernetes API)";
  /** Where the credentials come from: a kubeconfig, or in a pod its service account. */
  private credentials: KubeCredentials | undefined;
  /** The configured namespace; when none is, the kubeconfig context's or service account's, known once the client is loaded. */
  private namespace: string;
  private readonly selector: string;
  private readonly pods = new Map<string, Tracked>();
  private listener: ((exit: ProviderExit) => void) | undefined;
  private informer: Informer<V1Pod> | undefined;
  private owner: Promise<V1OwnerReference | undefined> | undefined;
  private watchFailures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: KubernetesProviderOptions) {
    const c = options.config;
    this.namespace = c["resourcemanager.kubernetes.namespace"] || "default";
    this.selector = `${LABELS.name}=riffle,${LABELS.component}=taskmanager,${LABELS.cluster}=${c["high-availability.cluster-id"]}`;
  }

  private connect(): Promise<Client> {
    this.client ??= import("@kubernetes/client-node").then(
      (k) => {
        // Decided again at each load (the JobManager's start checked them already): a token mounted late is found.
        const credentials = findCredentials(this.options.config);
        const kc = loadKubeConfig(k.KubeConfig, credentials);
        this.credentials = credentials;
        this.server = kc.getCurrentCluster()!.server;
        this.namespace = podNamespace(this.options.config, kc);
        this.options.logger.info(
          { server: this.server, namespace: this.namespace, credentials: credentials.kind },
          `kubernetes provider: API server ${this.server}, namespace ${this.namespace}, credentials from ${describeCredentials(credentials)}`,
        );
        return { kc, core: kc.makeApiClient(k.CoreV1Api), apps: kc.makeApiClient(k.AppsV1Api), makeInformer: k.makeInformer, Observable: k.Observable };
      },
      (err: unknown) => {
        throw new RiffleError("PROVIDER_FAILED", `cannot load @kubernetes/client-node: ${(err as Error).message}`, { cause: err });
      },
    );
    // A kubeconfig that could not be read is read again next time (it may be fixed meanwhile).
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  async start(id: string): Promise<ProvidedTaskManager> {
    const pod = podName(this.options.config["high-availability.cluster-id"], id);
    const tracked = this.track(id, pod, Date.now());
    try {
      const client = await this.connect();
      const body = this.podFor(id, pod, await this.ownerReference());
      await client.core.createNamespacedPod({ namespace: this.namespace, body }, this.deadline(client));
    } catch (err) {
      this.pods.delete(id);
      throw this.apiError(err, `create TaskManager pod ${this.namespace}/${pod}`);
    }
    this.options.logger.info({ taskmanagerId: id, pod, namespace: this.namespace }, `created TaskManager pod ${this.namespace}/${pod}`);
    return describe(tracked, this.namespace);
  }

  async stop(id: string): Promise<void> {
    const t = this.pods.get(id);
    if (!t) return;
    t.stopping = true;
    const grace = this.options.config["resourcemanager.kubernetes.termination-grace-period"] / 1000;
    if (!(await this.deletePod(t.pod, grace))) {
      this.gone(t);
      return;
    }
    // Gone once the watch sees it deleted; the API is asked too, in case the watch is down.
    const deadline = Date.now() + grace * 1000 + 15_000;
    while (Date.now() < deadline) {
      if (await settlesWithin(t.gone, 1_000)) return;
      try {
        const client = await this.connect();
        await client.core.readNamespacedPod({ namespace: this.namespace, name: t.pod }, this.deadline(client));
      } catch (err) {
        if (isApiError(err, 404)) {
          this.gone(t);
          return;
        }
      }
    }
    this.options.logger.warn(
      { taskmanagerId: id, pod: t.pod },
      `TaskManager pod ${this.namespace}/${t.pod} is still there ${grace} s after its deletion; leaving it to Kubernetes`,
    );
    this.gone(t);
  }

  async list(): Promise<ProvidedTaskManager[]> {
    let pods: V1Pod[];
    try {
      const client = await this.connect();
      pods = (await client.core.listNamespacedPod({ namespace: this.namespace, labelSelector: this.selector }, this.deadline(client, this.listTimeoutMs)))
        .items;
    } catch (err) {
      throw this.apiError(err, `list the TaskManager pods (${this.selector})`);
    }
    for (const p of pods) {
      const id = p.metadata?.labels?.[LABELS.taskmanager];
      const name = p.metadata?.name;
      if (!id || !name || this.pods.has(id) || p.metadata?.deletionTimestamp) continue;
      const ended = endedReason(p);
      if (ended) {
        this.options.logger.info(
          { taskmanagerId: id, pod: name },
          `deleting TaskManager pod ${this.namespace}/${name} a previous JobManager left: its TaskManager ${ended}`,
        );
        await this.deletePod(name, 0).catch((err: unknown) =>
          this.options.logger.warn({ pod: name, err: (err as Error).message }, "could not delete a leftover TaskManager pod"),
        );
        continue;
      }
      this.track(id, name, p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).getTime() : Date.now());
      this.options.logger.info({ taskmanagerId: id, pod: name, phase: p.status?.phase }, "adopted a TaskManager pod a previous JobManager started");
    }
    this.startWatching(await this.connect());
    return [...this.pods.values()].map((t) => describe(t, this.namespace));
  }

  watch(listener: (exit: ProviderExit) => void): void {
    this.listener = listener;
  }

  async close(stopAll: boolean): Promise<void> {
    this.listener = undefined;
    if (stopAll) {
      // Each stop is bounded (its calls have deadlines, its wait the grace period); all of them
      // together are bounded again, so a shutdown never hangs on an API that stopped answering.
      const stops = Promise.all([...this.pods.keys()].map((id) => this.stop(id).catch(() => {}))).then(() => {});
      if (!(await settlesWithin(stops, CLOSE_TIMEOUT_MS))) {
        this.options.logger.warn({ pods: [...this.pods.values()].map((t) => t.pod) }, "TaskManager pods not gone at shutdown; leaving them to Kubernetes");
      }
    }
    this.closed = true;
    clearTimeout(this.retryTimer);
    await settlesWithin(
      Promise.resolve(this.informer?.stop()).catch(() => {}),
      this.callTimeoutMs,
    );
  }

  private get callTimeoutMs(): number {
    return this.options.callTimeoutMs ?? CALL_TIMEOUT_MS;
  }

  private get listTimeoutMs(): number {
    return Math.ceil(this.callTimeoutMs / 3);
  }

  /** Per-call options that abort the request after `ms` (client-node has no timeout of its own). */
  private deadline(client: Client, ms = this.callTimeoutMs): ConfigurationOptions {
    const middleware = {
      pre: (context: RequestContext) => {
        context.setSignal(AbortSignal.timeout(ms));
        return new client.Observable(Promise.resolve(context));
      },
      post: (context: ResponseContext) => new client.Observable(Promise.resolve(context)),
    };
    return { middleware: [middleware], middlewareMergeStrategy: "append" };
  }

  /** The pod of TaskManager `id`. */
  private podFor(id: string, pod: string, owner: V1OwnerReference | undefined): V1Pod {
    const c = this.options.config;
    const command = c["resourcemanager.kubernetes.command"].trim();
    const serviceAccount = c["resourcemanager.kubernetes.service-account"];
    const cpu = c["resourcemanager.kubernetes.taskmanager.cpu"];
    const memory = c["resourcemanager.kubernetes.taskmanager.memory"];
    const env: V1EnvVar[] = [
      ...inheritedValues(c, OWN_KEYS).map(([key, value]) => ({ name: envVarName(key), value })),
      { name: envVarName("taskmanager.id"), value: id },
      { name: envVarName("taskmanager.jobmanager.address"), value: c["resourcemanager.kubernetes.jobmanager.address"] || this.options.jobmanagerAddress },
      // The pod's own address, to bind and to advertise to the JobManager and the other TaskManagers.
      { name: envVarName("taskmanager.host"), valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      // Any free port: a pod has its addresses to itself, and the TaskManager registers the ports it got.
      { name: envVarName("taskmanager.rpc.port"), value: "0" },
      { name: envVarName("taskmanager.metrics.port"), value: "0" },
    ];
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: pod,
        namespace: this.namespace,
        labels: {
          [LABELS.name]: "riffle",
          [LABELS.component]: "taskmanager",
          [LABELS.cluster]: c["high-availability.cluster-id"],
          [LABELS.taskmanager]: id,
        },
        ...(owner ? { ownerReferences: [owner] } : {}),
      },
      spec: {
        restartPolicy: "Never",
        terminationGracePeriodSeconds: c["resourcemanager.kubernetes.termination-grace-period"] / 1000,
        ...(serviceAccount ? { serviceAccountName: serviceAccount } : {}),
        containers: [
          {
            name: "taskmanager",
            image: c["resourcemanager.kubernetes.image"],
            imagePullPolicy: c["resourcemanager.kubernetes.image-pull-policy"],
            ...(command ? { command: command.split(/\s+/) } : {}),
            args: ["taskmanager"],
            env,
            resources: {
              requests: { cpu, memory },
              limits: {
                cpu: c["resourcemanager.kubernetes.taskmanager.cpu.limit"] || cpu,
                memory: c["resourcemanager.kubernetes.taskmanager.memory.limit"] || memory,
              },
            },
          },
        ],
      },
    };
  }

  /** The owner reference to the JobManager's Deployment, read once (a failed read is tried again at the next start). */
  private ownerReference(): Promise<V1OwnerReference | undefined> {
    const name = this.options.config["resourcemanager.kubernetes.owner-deployment"];
    if (!name) return Promise.resolve(undefined);
    this.owner ??= this.connect()
      .then((client) => client.apps.readNamespacedDeployment({ namespace: this.namespace, name }, this.deadline(client)))
      .then(
        (d) => ({ apiVersion: "apps/v1", kind: "Deployment", name, uid: d.metadata!.uid!, blockOwnerDeletion: true, controller: false }),
        (err: unknown) => {
          this.owner = undefined;
          if (isApiError(err, 404)) {
            throw new RiffleError(
              "PROVIDER_FAILED",
              `resourcemanager.kubernetes.owner-deployment: there is no Deployment ${this.namespace}/${name}; name the JobManager's Deployment, or leave the key empty for no owner reference`,
            );
          }
          throw this.apiError(err, `read the JobManager's Deployment ${this.namespace}/${name}`);
        },
      );
    return this.owner;
  }

  /** Deletes a pod; false if it was not there. */
  private async deletePod(name: string, gracePeriodSeconds: number): Promise<boolean> {
    try {
      const client = await this.connect();
      await client.core.deleteNamespacedPod({ namespace: this.namespace, name, gracePeriodSeconds }, this.deadline(client));
      return true;
    } catch (err) {
      if (isApiError(err, 404)) return false;
      throw this.apiError(err, `delete TaskManager pod ${this.namespace}/${name}`);
    }
  }

  private track(id: string, pod: string, startedAt: number): Tracked {
    let markGone = () => {};
    const gone = new Promise<void>((resolve) => {
      markGone = resolve;
    });
    const t: Tracked = { id, pod, startedAt, stopping: false, gone, markGone };
    this.pods.set(id, t);
    return t;
  }

  private gone(t: Tracked): void {
    if (this.pods.get(t.id) === t) this.pods.delete(t.id);
    t.markGone();
  }

  /** Lists and watches the cluster's TaskManager pods (once; again after the API failed the watch). */
  private startWatching(client: Client): void {
    const { kc, core, makeInformer } = client;
    if (this.informer || this.closed) return;
    const informer = makeInformer(
      kc,
      `/api/v1/namespaces/${this.namespace}/pods`,
      () => core.listNamespacedPod({ namespace: this.namespace, labelSelector: this.selector }, this.deadline(client, this.listTimeoutMs)),
      this.selector,
    );
    const changed = (pod: V1Pod) => this.observe(pod, false);
    informer.on("add", changed);
    informer.on("update", changed);
    informer.on("delete", (pod) => this.observe(pod, true));
    informer.on("connect", () => {
      this.watchFailures = 0;
    });
    informer.on("error", (err) => {
      if (this.closed) return;
      const delay = Math.min(WATCH_RETRY_MS * 2 ** this.watchFailures++, MAX_WATCH_RETRY_MS);
      this.options.logger.warn(
        { err: describeError(err), retryInMs: delay, server: this.server },
        `watching the TaskManager pods failed (${describeError(err)}); listing and watching again in ${delay} ms`,
      );
      this.retryTimer = setTimeout(() => {
        if (!this.closed) informer.start().catch(() => {});
      }, delay);
    });
    this.informer = informer;
    informer.start().catch(() => {});
  }

  /** A pod changed or went: a TaskManager that ended, could not start, or was deleted by someone else. */
  private observe(pod: V1Pod, deleted: boolean): void {
    const id = pod.metadata?.labels?.[LABELS.taskmanager];
    const t = id === undefined ? undefined : this.pods.get(id);
    if (!t || t.pod !== pod.metadata?.name) return;
    if (deleted) {
      if (!t.stopping) this.exited(t, `was deleted by someone else${endedReason(pod) ? ` (it had ${endedReason(pod)})` : ""}`);
      this.gone(t);
      return;
    }
    if (t.stopping) return;
    const ended = endedReason(pod) ?? stuckReason(pod);
    if (!ended) return;
    this.exited(t, ended);
    this.gone(t);
    // restartPolicy Never: it stays Failed until deleted; the resource manager starts a new one if needed.
    this.deletePod(t.pod, 0).catch((err: unknown) =>
      this.options.logger.warn({ pod: t.pod, err: (err as Error).message }, "could not delete an ended TaskManager pod"),
    );
  }

  private exited(t: Tracked, what: string): void {
    const reason = `(pod ${this.namespace}/${t.pod}) ${what}`;
    this.options.logger.warn({ taskmanagerId: t.id, pod: t.pod }, `TaskManager ${t.id} ${reason}`);
    this.listener?.({ id: t.id, reason });
  }

  /** A PROVIDER_FAILED error that says what the API answered (its Status message) and what to check. */
  private apiError(err: unknown, what: string): RiffleError {
    if (err instanceof RiffleError) return err;
    if (isApiError(err)) {
      const message = statusMessage(err);
      const hint =
        err.code === 403
          ? " (a ResourceQuota, a missing service account, or RBAC: the JobManager's service account needs create, get, list, watch and delete on pods)"
          : err.code === 401
            ? ` (${this.credentials ? unauthorizedHint(this.credentials) : "the credentials were refused"})`
            : err.code === 422
              ? " (check the resourcemanager.kubernetes.* settings)"
              : "";
      return new RiffleError("PROVIDER_FAILED", `Kubernetes API refused to ${what}: ${err.code} ${message}${hint}`, { cause: err });
    }
    const why = (err as Error | undefined)?.name === "AbortError" ? "no answer before the call's deadline" : describeError(err);
    return new RiffleError("PROVIDER_FAILED", `cannot ${what}: the Kubernetes API at ${this.server} did not answer (${why})`, { cause: err });
  }
}

/** `riffle-<cluster id>-<TaskManager id>`, made a valid pod name (lower case, at most 63 characters). */
export function podName(clusterId: string, id: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  const tail = clean(id);
  const head = clean(clusterId).slice(0, Math.max(0, 63 - "riffle--".length - tail.length));
  return `riffle-${head}-${tail}`.replace(/-+/g, "-").replace(/-$/, "");
}

/** How a pod ended, as a verb phrase ("exited with code 1 (Error)"), or undefined while it lives. */
function endedReason(pod: V1Pod): string | undefined {
  const phase = pod.status?.phase;
  if (phase !== "Failed" && phase !== "Succeeded") return undefined;
  const t = pod.status?.containerStatuses?.[0]?.state?.terminated;
  if (!t) return `ended (${phase}${pod.status?.reason ? `: ${pod.status.reason}` : ""}${pod.status?.message ? `, ${pod.status.message}` : ""})`;
  const how = t.signal ? `was killed by signal ${t.signal}` : `exited with code ${t.exitCode}`;
  return `${how}${t.reason ? ` (${t.reason}${t.message ? `: ${t.message}` : ""})` : ""}`;
}

/** Why a pod's container cannot start (a missing image, a bad configuration), or undefined. */
function stuckReason(pod: V1Pod): string | undefined {
  const w = pod.status?.containerStatuses?.[0]?.state?.waiting;
  if (!w?.reason || !STUCK_REASONS.has(w.reason)) return undefined;
  return `cannot start its container: ${w.reason}${w.message ? ` (${w.message})` : ""}`;
}

function statusMessage(err: ApiException<unknown>): string {
  try {
    const status = typeof err.body === "string" ? JSON.parse(err.body) : err.body;
    if (status && typeof status.message === "string") return `${status.reason ?? ""}: ${status.message}`.replace(/^: /, "");
  } catch {
    // Not a Status: say what came.
  }
  if (err.body !== undefined) return String(err.body).slice(0, 500);
  // No body kept (client-node drops it for statuses its API description lists without one, as 401):
  // the reason line of its message ("HTTP-Code: 401\nMessage: Unauthorized\nBody: ...\nHeaders: ...").
  return /^Message: (.*)$/m.exec(err.message)?.[1] ?? err.message.slice(0, 500);
}

/** An error answer of the API (client-node's ApiException), with status `code` if given. */
function isApiError(err: unknown, code?: number): err is ApiException<unknown> {
  const e = err as { code?: unknown; body?: unknown; headers?: unknown } | undefined;
  return typeof e?.code === "number" && e.headers !== undefined && (code === undefined || e.code === code);
}

function describeError(err: unknown): string {
  if (isApiError(err)) return `${err.code} ${statusMessage(err)}`;
  const e = err as { message?: string; code?: string; statusCode?: number };
  return [e.statusCode, e.code, e.message].filter((x) => x !== undefined).join(" ") || String(err);
}

function describe(t: Tracked, namespace: string): ProvidedTaskManager {
  return { id: t.id, startedAt: t.startedAt, where: `pod ${namespace}/${t.pod}` };
}
