import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import type { KubeObject, ObjectStore, StoredEvent } from "./store.js";

/** The node every pod runs on, and the address every pod gets: this machine. */
export const NODE_NAME = "riffle-test-node";
const POD_IP = "127.0.0.1";
/** The kubelet's restart back-off (CrashLoopBackOff): 10 s, doubling, at most 5 min. */
const BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = 300_000;

interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; [k: string]: unknown } }>;
}

interface PodSpec {
  containers: ContainerSpec[];
  restartPolicy: "Always" | "OnFailure" | "Never";
  terminationGracePeriodSeconds: number;
  serviceAccountName: string;
  nodeName?: string;
}

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; message?: string; startedAt?: string; finishedAt: string; containerID?: string } };

interface Container {
  spec: ContainerSpec;
  child: ChildProcess | undefined;
  state: ContainerState;
  restartCount: number;
  startedAt: string | undefined;
  restartTimer: NodeJS.Timeout | undefined;
}

interface PodRun {
  namespace: string;
  name: string;
  uid: string;
  spec: PodSpec;
  containers: Container[];
  deleting: boolean;
  killTimer: NodeJS.Timeout | undefined;
  startTime: string;
}

/**
 * The test server's kubelet: one node, this machine. Each pod the API server stores is bound to it
 * and each container's `command` + `args` runs as a local process (its own process group), with the
 * container's `env` (values, `$(VAR)` references, and the downward API's `fieldRef`s) and nothing of
 * this process's environment but PATH. **The image is ignored**: a container without a `command`
 * (one that would run its image's entrypoint) stays waiting with CreateContainerError. Its output
 * goes to `<dataDir>/logs/<namespace>_<pod>_<container>.log` (`GET .../pods/<name>/log`).
 *
 * It reports what a real kubelet reports in the pod's status: Pending → Running once every
 * container started → Succeeded (all exited 0) or Failed, with each container's state and exit code,
 * restarting containers as `restartPolicy` says (with CrashLoopBackOff's delay). A deletion with a
 * grace period sends SIGTERM, SIGKILL once the grace period is over, and removes the pod once its
 * processes are gone; a grace period of 0 removes it at once and kills them.
 */
export class Kubelet {
  readonly logDir: string;
  private readonly pods = new Map<string, PodRun>();
  private readonly unsubscribe: () => void;
  private readonly killAtExit = () => {
    for (const p of this.pods.values()) for (const c of p.containers) signalGroup(c.child, "SIGKILL");
  };

  constructor(
    private readonly store: ObjectStore,
    private readonly dataDir: string,
  ) {
    this.logDir = join(dataDir, "logs");
    mkdirSync(this.logDir, { recursive: true });
    this.unsubscribe = store.subscribe((e) => this.observe(e));
    // Pods must not outlive the process that runs them (a test worker that ends mid-test).
    process.on("exit", this.killAtExit);
  }

  /** The process ids of a pod's running containers (a test kills them as an OOM kill or a crash would). */
  pids(namespace: string, name: string): number[] {
    const run = this.pods.get(`${namespace}/${name}`);
    return (run?.containers ?? []).flatMap((c) =>
      c.child?.pid !== undefined && c.child.exitCode === null && c.child.signalCode === null ? [c.child.pid] : [],
    );
  }

  /** Deletes a pod as the API server's DELETE does; returns the object the answer carries. */
  delete(namespace: string, name: string, grace: number | undefined): KubeObject {
    const pod = this.store.get("pods", namespace, name)!;
    const run = this.pods.get(`${namespace}/${name}`);
    const seconds = grace ?? (pod.spec as PodSpec).terminationGracePeriodSeconds;
    if (pod.metadata.deletionTimestamp && seconds > 0) return pod;
    if (!run || seconds === 0 || !this.anyRunning(run)) {
      if (run) this.forget(run, "SIGKILL");
      return this.store.remove("pods", namespace, name);
    }
    run.deleting = true;
    const updated = this.store.update("pods", namespace, name, (o) => {
      o.metadata.deletionTimestamp = new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
      o.metadata.deletionGracePeriodSeconds = seconds;
    });
    for (const c of run.containers) {
      if (c.restartTimer) clearTimeout(c.restartTimer);
      signalGroup(c.child, "SIGTERM");
    }
    run.killTimer = setTimeout(() => {
      for (const c of run.containers) signalGroup(c.child, "SIGKILL");
    }, seconds * 1000);
    return updated;
  }

  /** Stops watching the store; `killPods`: kill every pod's processes (and wait for them). */
  async close(killPods: boolean): Promise<void> {
    this.unsubscribe();
    process.off("exit", this.killAtExit);
    if (!killPods) return;
    const exits: Promise<unknown>[] = [];
    for (const run of this.pods.values()) {
      for (const c of run.containers) {
        if (c.child && c.child.exitCode === null && c.child.signalCode === null) exits.push(new Promise((r) => c.child!.once("exit", r)));
      }
      this.forget(run, "SIGKILL");
    }
    await Promise.all(exits);
  }

  private observe(e: StoredEvent): void {
    if (e.resource !== "pods") return;
    const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
    if (e.type === "ADDED" && !(e.object.spec as PodSpec).nodeName) {
      // Not from inside the store's notification: every watcher must see ADDED before what follows.
      setImmediate(() => this.bind(e.object));
    } else if (e.type === "DELETED") {
      const run = this.pods.get(key);
      if (run && run.uid === e.object.metadata.uid) this.forget(run, "SIGKILL");
    }
  }

  /** Binds a new pod to this node and starts its containers. */
  private bind(pod: KubeObject): void {
    const { namespace, name, uid } = pod.metadata as { namespace: string; name: string; uid: string };
    const current = this.store.get("pods", namespace, name);
    if (!current || current.metadata.uid !== uid) return;
    const spec = pod.spec as PodSpec;
    const run: PodRun = {
      namespace,
      name,
      uid,
      spec,
      containers: spec.containers.map((c) => ({
        spec: c,
        child: undefined,
        state: { waiting: { reason: "ContainerCreating" } },
        restartCount: 0,
        startedAt: undefined,
        restartTimer: undefined,
      })),
      deleting: false,
      killTimer: undefined,
      startTime: now(),
    };
    this.pods.set(`${namespace}/${name}`, run);
    this.store.update("pods", namespace, name, (o) => {
      (o.spec as PodSpec).nodeName = NODE_NAME;
    });
    this.report(run);
    for (const c of run.containers) this.startContainer(run, c, current);
  }

  private startContainer(run: PodRun, c: Container, pod: KubeObject): void {
    if (!c.spec.command || c.spec.command.length === 0) {
      c.state = {
        waiting: {
          reason: "CreateContainerError",
          message: `the riffle test kubelet runs no images: container "${c.spec.name}" has no command (an image's entrypoint cannot run here)`,
        },
      };
      this.report(run);
      return;
    }
    let env: Record<string, string>;
    try {
      env = containerEnv(c.spec, pod);
    } catch (err) {
      c.state = { waiting: { reason: "CreateContainerConfigError", message: (err as Error).message } };
      this.report(run);
      return;
    }
    const argv = [...c.spec.command, ...(c.spec.args ?? [])].map((a) => expand(a, env));
    const cwd = c.spec.workingDir ?? join(this.dataDir, "pods", `${run.namespace}_${run.name}_${run.uid.slice(0, 8)}`, c.spec.name);
    mkdirSync(cwd, { recursive: true });
    const fd = openSync(join(this.logDir, `${run.namespace}_${run.name}_${c.spec.name}.log`), "a");
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    c.child = child;
    child.once("spawn", () => {
      c.startedAt = now();
      c.state = { running: { startedAt: c.startedAt } };
      this.report(run);
    });
    child.once("error", (err) => {
      if (child.pid !== undefined) return;
      this.containerEnded(run, c, { exitCode: 128, reason: "StartError", message: `failed to start ${argv[0]}: ${err.message}`, finishedAt: now() });
    });
    child.once("exit", (code, signal) => {
      const signo = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
      this.containerEnded(run, c, {
        exitCode: code ?? 128 + (signo ?? 0),
        ...(signo !== undefined ? { signal: signo } : {}),
        reason: code === 0 ? "Completed" : "Error",
        ...(c.startedAt ? { startedAt: c.startedAt } : {}),
        finishedAt: now(),
        containerID: `riffle://${child.pid}`,
      });
    });
  }

  private containerEnded(run: PodRun, c: Container, terminated: Extract<ContainerState, { terminated: unknown }>["terminated"]): void {
    if (this.pods.get(`${run.namespace}/${run.name}`) !== run) return;
    c.state = { terminated };
    if (run.deleting) {
      if (this.anyRunning(run)) return;
      clearTimeout(run.killTimer);
      this.pods.delete(`${run.namespace}/${run.name}`);
      try {
        this.report(run);
        this.store.remove("pods", run.namespace, run.name);
      } catch {
        // Removed meanwhile (a forced deletion).
      }
      return;
    }
    const restart = run.spec.restartPolicy === "Always" || (run.spec.restartPolicy === "OnFailure" && terminated.exitCode !== 0);
    if (restart) {
      const delay = Math.min(BACKOFF_MS * 2 ** c.restartCount, MAX_BACKOFF_MS);
      c.restartCount++;
      c.restartTimer = setTimeout(() => {
        const pod = this.store.get("pods", run.namespace, run.name);
        if (pod && !run.deleting) this.startContainer(run, c, pod);
      }, delay);
    }
    this.report(run);
  }

  private anyRunning(run: PodRun): boolean {
    return run.containers.some((c) => c.child !== undefined && c.child.exitCode === null && c.child.signalCode === null && !("terminated" in c.state));
  }

  /** Stops tracking a pod, killing what still runs of it. */
  private forget(run: PodRun, signal: NodeJS.Signals): void {
    this.pods.delete(`${run.namespace}/${run.name}`);
    clearTimeout(run.killTimer);
    for (const c of run.containers) {
      clearTimeout(c.restartTimer);
      signalGroup(c.child, signal);
    }
  }

  /** Writes the pod's status from its containers' states (MODIFIED), as the kubelet's status manager. */
  private report(run: PodRun): void {
    const states = run.containers.map((c) => c.state);
    const allRunning = states.every((s) => "running" in s);
    const allTerminated = states.every((s) => "terminated" in s);
    const willRestart = run.spec.restartPolicy !== "Never" && !run.deleting;
    let phase: string;
    if (allTerminated && !willRestart) phase = states.every((s) => "terminated" in s && s.terminated.exitCode === 0) ? "Succeeded" : "Failed";
    else if (states.some((s) => "running" in s || "terminated" in s)) phase = "Running";
    else phase = "Pending";
    const condition = (type: string, ok: boolean) => ({ type, status: ok ? "True" : "False", lastTransitionTime: now() });
    try {
      this.store.update("pods", run.namespace, run.name, (o) => {
        const old = (o.status ?? {}) as { conditions?: Array<{ type: string; status: string; lastTransitionTime: string }> };
        const keep = (c: { type: string; status: string; lastTransitionTime: string }) =>
          old.conditions?.find((x) => x.type === c.type && x.status === c.status) ?? c;
        o.status = {
          phase,
          conditions: [
            condition("PodScheduled", true),
            condition("Initialized", true),
            condition("ContainersReady", allRunning),
            condition("Ready", allRunning),
          ].map(keep),
          hostIP: POD_IP,
          podIP: POD_IP,
          podIPs: [{ ip: POD_IP }],
          startTime: run.startTime,
          qosClass: (o.status as { qosClass?: string } | undefined)?.qosClass ?? "BestEffort",
          containerStatuses: run.containers.map((c) => ({
            name: c.spec.name,
            image: c.spec.image,
            imageID: "",
            ready: "running" in c.state,
            started: "running" in c.state,
            restartCount: c.restartCount,
            state: c.state,
            ...(c.child?.pid !== undefined ? { containerID: `riffle://${c.child.pid}` } : {}),
          })),
        };
      });
    } catch {
      // The pod was removed meanwhile.
    }
  }
}

/** A container's environment: PATH, HOSTNAME, then its `env` in order (later entries can refer to earlier ones). */
function containerEnv(spec: ContainerSpec, pod: KubeObject): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOSTNAME: pod.metadata.name! };
  for (const e of spec.env ?? []) {
    if (e.valueFrom) {
      const path = e.valueFrom.fieldRef?.fieldPath;
      if (!path) throw new Error(`env ${e.name}: the riffle test kubelet resolves only fieldRef (no secrets, config maps or resource fields)`);
      env[e.name] = fieldValue(path, pod);
    } else {
      env[e.name] = expand(e.value ?? "", env);
    }
  }
  return env;
}

function fieldValue(path: string, pod: KubeObject): string {
  const spec = pod.spec as PodSpec;
  const m = path.match(/^metadata\.(labels|annotations)\['([^']+)'\]$/);
  if (m) return (pod.metadata[m[1]!] as Record<string, string> | undefined)?.[m[2]!] ?? "";
  switch (path) {
    case "metadata.name":
      return pod.metadata.name!;
    case "metadata.namespace":
      return pod.metadata.namespace!;
    case "metadata.uid":
      return pod.metadata.uid!;
    case "spec.nodeName":
      return NODE_NAME;
    case "spec.serviceAccountName":
      return spec.serviceAccountName;
    case "status.hostIP":
    case "status.hostIPs":
    case "status.podIP":
    case "status.podIPs":
      return POD_IP;
    default:
      throw new Error(`env: unsupported fieldPath ${path}`);
  }
}

/** `$(VAR)` → the variable's value when defined (else left as written); `$$(VAR)` → `$(VAR)`. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([^)]+)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && name in env ? env[name]! : match;
  });
}

function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Gone already.
  }
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}
