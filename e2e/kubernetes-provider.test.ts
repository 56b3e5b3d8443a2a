import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { KubeApiServer } from "@riffle/kube-api";
import { freePort } from "@riffle/shared";
import type { JobDetails } from "@riffle/shared/rest-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, ResourceCluster, RiffleProcess, setFlags } from "./harness/index.js";

/**
 * The resource manager with the `kubernetes` provider: the JobManager talks to the project's
 * Kubernetes-API test server (testing/kube-api) with the real @kubernetes/client-node, through a
 * kubeconfig, over TLS with a bearer token. Every pod it creates is checked against the official
 * schemas there, and the test server's kubelet runs each pod's command (the riffle CLI) as a local
 * process, so the TaskManagers are real and register with the JobManager. What this cannot show: a
 * real cluster's admission, scheduling, images, networking, RBAC and quotas as it enforces them.
 */
let work: string;
let api: KubeApiServer | undefined;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "riffle-k8s-"));
});
afterEach(async () => {
  await api?.close(true);
  api = undefined;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NAMESPACE = "riffle";

async function startApi(name: string, options: { quota?: { pods?: number } } = {}) {
  api = await KubeApiServer.start({
    dataDir: join(work, name, "kube"),
    namespaces: ["default", NAMESPACE],
    serviceAccounts: ["default", "riffle-taskmanager"],
    token: "secret",
    ...options,
  });
  const kubeconfig = api.writeKubeconfig(join(work, `${name}-kubeconfig`));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { api, kubeconfig, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** The JobManager under test, with the kubernetes provider. */
class Cluster extends ResourceCluster {
  constructor(settings: Record<string, string | number>, env: NodeJS.ProcessEnv = {}) {
    super(settings, "kubernetes", env);
  }
}

const running = (j: JobDetails) => j.state === "RUNNING" && j.vertices.every((v) => v.tasks.RUNNING === v.parallelism);

function settings(name: string, kubeconfig: string, extra: Record<string, string | number> = {}): Record<string, string | number> {
  return {
    "rest.port": 0,
    "jobmanager.rpc.port": 0,
    "jobmanager.storage.dir": join(work, name, "jobmanager"),
    "state.checkpoints.dir": join(work, name, "checkpoints"),
    "state.savepoints.dir": join(work, name, "savepoints"),
    "heartbeat.interval": "500ms",
    "heartbeat.timeout": "5s",
    "taskmanager.slots": 2,
    "resourcemanager.provider": "kubernetes",
    "resourcemanager.kubernetes.kubeconfig": kubeconfig,
    "resourcemanager.kubernetes.namespace": NAMESPACE,
    // The test kubelet ignores images and runs the command: the riffle CLI of this checkout.
    "resourcemanager.kubernetes.image": "riffle:test",
    "resourcemanager.kubernetes.command": `${process.execPath} ${CLI}`,
    "resourcemanager.kubernetes.taskmanager.cpu": "500m",
    "resourcemanager.kubernetes.taskmanager.memory": "768Mi",
    "resourcemanager.kubernetes.taskmanager.memory.limit": "1Gi",
    "resourcemanager.kubernetes.termination-grace-period": "10s",
    ...extra,
  };
}

async function pods(core: CoreV1Api): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: "app.kubernetes.io/component=taskmanager" })).items;
}

describe("resource manager with the kubernetes provider", () => {
  it("creates TaskManager pods that register, replaces a killed one, releases idle ones, reconciles after a JobManager crash, deletes them on shutdown", async () => {
    const { kubeconfig, core, apps } = await startApi("lifecycle");
    // The JobManager's Deployment, which owns the TaskManager pods.
    const deployment = await apps.createNamespacedDeployment({
      namespace: NAMESPACE,
      body: {
        metadata: { name: "riffle-jobmanager" },
        spec: {
          selector: { matchLabels: { app: "riffle-jobmanager" } },
          template: { metadata: { labels: { app: "riffle-jobmanager" } }, spec: { containers: [{ name: "jobmanager", image: "riffle:test" }] } },
        },
      },
    });
    const cluster = new Cluster(
      settings("lifecycle", kubeconfig, {
        // Fixed, as a Service's port in front of the JobManager: the adopted pods find the next JobManager there.
        "jobmanager.rpc.port": await freePort(),
        "resourcemanager.taskmanagers.min": 1,
        "resourcemanager.taskmanagers.max": 3,
        "resourcemanager.taskmanager-timeout": "2s",
        "resourcemanager.kubernetes.service-account": "riffle-taskmanager",
        "resourcemanager.kubernetes.owner-deployment": "riffle-jobmanager",
        "high-availability.cluster-id": "k8s-test",
      }),
    );
    await cluster.start();
    try {
      // min: one TaskManager pod without any job, and it registers.
      let tms = await cluster.until(
        "one TaskManager registered",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
        60_000,
      );
      const [first] = await pods(core);
      expect(first?.metadata).toMatchObject({
        name: `riffle-k8s-test-${tms[0]!.id}`,
        labels: { "app.kubernetes.io/name": "riffle", "riffle.io/cluster-id": "k8s-test", "riffle.io/taskmanager-id": tms[0]!.id },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "riffle-jobmanager", uid: deployment.metadata!.uid }],
      });
      expect(first?.spec).toMatchObject({ restartPolicy: "Never", serviceAccountName: "riffle-taskmanager", terminationGracePeriodSeconds: 10 });
      expect(first?.spec?.containers[0]).toMatchObject({
        image: "riffle:test",
        args: ["taskmanager"],
        resources: { requests: { cpu: "500m", memory: "768Mi" }, limits: { cpu: "500m", memory: "1Gi" } },
      });
      expect(first?.spec?.containers[0]?.env).toContainEqual({ name: "RIFFLE_TASKMANAGER_HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
      expect(first?.spec?.containers[0]?.env).toContainEqual({ name: "RIFFLE_HEARTBEAT_INTERVAL", value: "500" });
      expect(first?.status).toMatchObject({ phase: "Running", qosClass: "Burstable" });

      // A job of parallelism 4 needs 4 slots: a second pod.
      const args = ["--out", join(work, "out"), "--count", "10000000", "--rate", "200", "--keys", "10"];
      const submitted = await cluster.submit("e2e/jobs/savepoint-count.ts", 4, args);
      expect(submitted.status).toBe(202);
      const jobId = submitted.body.jobid;
      await cluster.until("the job running on 4 slots", () => cluster.job(jobId), running, 60_000);
      tms = await cluster.taskmanagers();
      expect(tms).toHaveLength(2);
      expect((await pods(core)).map((p) => p.status?.phase)).toEqual(["Running", "Running"]);

      // The TaskManager in one pod is killed (as an OOM kill would): the pod fails, and the
      // provider reports it, deletes it, and a new pod replaces it for the missing slots.
      const victim = tms[1]!;
      const victimPod = `riffle-k8s-test-${victim.id}`;
      process.kill(victim.pid, "SIGKILL");
      await cluster.until(
        "a replacement registered and the job running again",
        async () => ({ tms: await cluster.taskmanagers(), job: await cluster.job(jobId) }),
        (s) => s.tms.length === 2 && !s.tms.some((t) => t.id === victim.id) && running(s.job),
        90_000,
      );
      await cluster.jm.waitForLog((l) => String(l.msg).includes(`TaskManager ${victim.id} (pod ${NAMESPACE}/${victimPod}) was killed by signal 9`));
      await cluster.until(
        "the failed pod deleted",
        async () => (await pods(core)).map((p) => p.metadata!.name),
        (names) => names.length === 2 && !names.includes(victimPod),
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_exited")).toBe(1);
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(3);

      // Cancelled: after the idle timeout one pod is deleted, down to min.
      expect((await cluster.rest("PATCH", `/jobs/${jobId}?mode=cancel`)).status).toBe(202);
      tms = await cluster.until(
        "idle TaskManagers released down to min",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
      );
      const survivor = tms[0]!;
      await cluster.until(
        "only the survivor's pod left",
        async () => (await pods(core)).map((p) => p.metadata!.name),
        (names) => names.length === 1 && names[0] === `riffle-k8s-test-${survivor.id}`,
      );
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_released")).toBe(1);

      // The JobManager crashes. Meanwhile another TaskManager pod of the cluster ends (here: one whose
      // process exits at once). The next JobManager adopts the live pod and deletes the ended one.
      cluster.jm.kill("SIGKILL");
      await cluster.jm.exited;
      const ended = "riffle-k8s-test-taskmanager-ended000";
      await core.createNamespacedPod({
        namespace: NAMESPACE,
        body: {
          metadata: { name: ended, labels: { ...first!.metadata!.labels, "riffle.io/taskmanager-id": "taskmanager-ended000" } },
          spec: { restartPolicy: "Never", containers: [{ name: "taskmanager", image: "riffle:test", command: [process.execPath, "-e", "process.exit(1)"] }] },
        },
      });
      await cluster.until(
        "the other pod failed",
        async () => (await core.readNamespacedPod({ namespace: NAMESPACE, name: ended })).status?.phase,
        (phase) => phase === "Failed",
      );
      await cluster.start();
      await cluster.jm.waitForLog((l) => String(l.msg).includes("adopted 1 TaskManager(s)"), 30_000);
      await cluster.jm.waitForLog((l) =>
        String(l.msg).startsWith(`deleting TaskManager pod ${NAMESPACE}/${ended} a previous JobManager left: its TaskManager exited with code 1`),
      );
      tms = await cluster.until(
        "the adopted TaskManager registered again",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
        60_000,
      );
      expect(tms[0]).toMatchObject({ id: survivor.id, pid: survivor.pid });
      expect((await pods(core)).map((p) => p.metadata!.name)).toEqual([`riffle-k8s-test-${survivor.id}`]);
      expect(await cluster.metric("riffle_resourcemanager_taskmanagers_started")).toBe(0);

      // An orderly shutdown deletes the pods it runs (gracefully: the TaskManager exits on SIGTERM).
      await cluster.jm.stop(30_000);
      expect(await pods(core)).toEqual([]);
    } finally {
      await cluster.jm.stop();
    }
  }, 300_000);

  it("a pod the API refuses (quota: 403, invalid: 422) or whose container cannot start fails the start with the reason and backs off; running jobs keep running", async () => {
    const { kubeconfig } = await startApi("refused", { quota: { pods: 1 } });
    const cluster = new Cluster(
      settings("refused", kubeconfig, {
        "resourcemanager.start-worker.retry-interval": "500ms",
        "jobmanager.slot-request.timeout": "4s",
      }),
    );
    await cluster.start();
    try {
      // A first job fits the one pod the quota allows.
      const args = ["--out", join(work, "refused-out"), "--count", "10000000", "--rate", "100", "--keys", "10"];
      const first = await cluster.submit("e2e/jobs/savepoint-count.ts", 2, args);
      await cluster.until("the first job running", () => cluster.job(first.body.jobid), running, 60_000);

      // A second job needs a second pod, which the quota refuses.
      const second = await cluster.submit("e2e/jobs/count-to.ts", 2);
      const refused = await cluster.jm.waitForLog((l) => /could not start a TaskManager: PROVIDER_FAILED/.test(String(l.msg)), 30_000);
      expect(refused.msg).toMatch(
        /Kubernetes API refused to create TaskManager pod riffle\/riffle-default-taskmanager-\w+: 403 Forbidden: pods "riffle-default-taskmanager-\w+" is forbidden: exceeded quota: riffle-test-quota, requested: pods=1, used: pods=1, limited: pods=1 \(a ResourceQuota/,
      );
      const failed = await cluster.until(
        "the second job failed for want of slots",
        () => cluster.job(second.body.jobid),
        (j) => j.state === "FAILED",
        30_000,
      );
      expect(failed.failure?.code).toBe("NO_RESOURCE_AVAILABLE");
      expect(failed.failure?.message).toMatch(/the kubernetes provider cannot start TaskManagers \(PROVIDER_FAILED: Kubernetes API refused .* exceeded quota/);
      // Backed off: a few attempts, not one per tick.
      const failures = (await cluster.metric("riffle_resourcemanager_start_failures")) ?? 0;
      expect(failures).toBeGreaterThanOrEqual(1);
      expect(failures).toBeLessThanOrEqual(5);
      expect(running(await cluster.job(first.body.jobid))).toBe(true);
    } finally {
      await cluster.jm.stop(30_000);
    }

    // Requests above limits: the API answers 422 Invalid with the field, and the JobManager says so.
    await api!.close(true);
    api = undefined;
    const { kubeconfig: kc2 } = await startApi("invalid");
    const invalid = new Cluster(
      settings("invalid", kc2, {
        "resourcemanager.taskmanagers.min": 1,
        "resourcemanager.kubernetes.taskmanager.cpu": "2",
        "resourcemanager.kubernetes.taskmanager.cpu.limit": "1",
      }),
    );
    await invalid.start();
    try {
      const line = await invalid.jm.waitForLog((l) => /could not start a TaskManager/.test(String(l.msg)), 30_000);
      expect(line.msg).toMatch(
        /422 Invalid: Pod "riffle-default-taskmanager-\w+" is invalid: spec.containers\[0\].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1 \(check the resourcemanager.kubernetes.\* settings\)/,
      );
      expect((await invalid.rest("GET", "/overview")).status).toBe(200);
    } finally {
      await invalid.jm.stop(30_000);
    }

    // A pod whose container cannot start (here: no command, so the test kubelet has nothing to run,
    // as a missing image would leave it waiting) is a failed start at once, not after the
    // registration timeout; the pod is deleted.
    await api!.close(true);
    api = undefined;
    const { kubeconfig: kc3, core } = await startApi("stuck");
    const stuck = new Cluster({
      ...settings("stuck", kc3, { "resourcemanager.taskmanagers.min": 1, "resourcemanager.start-worker.retry-interval": "10s" }),
      "resourcemanager.kubernetes.command": "",
    });
    await stuck.start();
    try {
      const line = await stuck.jm.waitForLog((l) => /could not start a TaskManager/.test(String(l.msg)), 30_000);
      expect(line.msg).toMatch(
        /\(pod riffle\/riffle-default-taskmanager-\w+\) cannot start its container: CreateContainerError \(the riffle test kubelet runs no images/,
      );
      await stuck.until(
        "the stuck pod deleted",
        () => pods(core),
        (p) => p.length === 0,
      );
    } finally {
      await stuck.jm.stop(30_000);
    }
  }, 240_000);

  it("serves while the Kubernetes API is down at its start, and creates pods once it answers", async () => {
    // A server's kubeconfig, port and certificate; then it goes, and comes back later on the same port.
    const first = await startApi("late");
    const port = Number(new URL(first.api.url).port);
    const tls = first.api.tls;
    await first.api.close(true);
    api = undefined;
    const cluster = new Cluster(settings("late", first.kubeconfig, { "resourcemanager.taskmanagers.min": 1 }));
    await cluster.start();
    try {
      await cluster.jm.waitForLog((l) =>
        /the kubernetes provider cannot list its TaskManagers \(cannot list the TaskManager pods .*did not answer/.test(String(l.msg)),
      );
      expect((await cluster.rest("GET", "/overview")).status).toBe(200);
      expect(await cluster.taskmanagers()).toEqual([]);
      api = await KubeApiServer.start({ dataDir: join(work, "late", "kube2"), namespaces: [NAMESPACE], token: "secret", port, tls });
      await cluster.jm.waitForLog((l) => String(l.msg).startsWith("resource manager started with the kubernetes provider"), 30_000);
      await cluster.until(
        "a TaskManager pod registered",
        () => cluster.taskmanagers(),
        (t) => t.length === 1,
        60_000,
      );
    } finally {
      await cluster.jm.stop(30_000);
    }
  }, 120_000);

  it("in a pod: no kubeconfig, the service account's token, CA certificate and namespace; a refused token is a clear 401 and the JobManager keeps serving", async () => {
    const { api: server, core } = await startApi("in-cluster");
    // What the kubelet mounts and sets in the JobManager's container, here in a directory of the test.
    const pod = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(server.port), KUBECONFIG: "" };
    const inCluster = (name: string, serviceAccountDir: string, extra: Record<string, string | number> = {}) => {
      const s = settings(name, "", extra);
      delete s["resourcemanager.kubernetes.kubeconfig"];
      delete s["resourcemanager.kubernetes.namespace"];
      return { ...s, "resourcemanager.kubernetes.in-cluster.service-account-dir": serviceAccountDir };
    };
    const sa = server.writeServiceAccount(join(work, "in-cluster", "serviceaccount"), NAMESPACE);
    const cluster = new Cluster(inCluster("in-cluster", sa), pod);
    await cluster.start();
    try {
      const submitted = await cluster.submit("e2e/jobs/count-to.ts", 2, ["--count", "20000"]);
      expect(submitted.status).toBe(202);
      const loaded = await cluster.jm.waitForLog((l) => String(l.msg).startsWith("kubernetes provider: API server"));
      expect(loaded.msg).toBe(
        `kubernetes provider: API server ${server.url}, namespace ${NAMESPACE}, credentials from the service account in ${sa} (in-cluster)`,
      );
      const job = await cluster.until(
        "the job finished on a TaskManager pod",
        () => cluster.job(submitted.body.jobid),
        (j) => j.state === "FINISHED" || j.state === "FAILED",
        90_000,
      );
      expect(job.state).toBe("FINISHED");
      // The pod is in the service account's namespace (none configured).
      const [tm] = await cluster.taskmanagers();
      expect((await pods(core)).map((p) => p.metadata?.name)).toEqual([`riffle-default-${tm!.id}`]);
      // The server refuses any request without the token: the JobManager sent the mounted one.
      const anonymous = new KubeConfig();
      anonymous.loadFromOptions({
        clusters: [{ name: "c", server: server.url, caData: Buffer.from(server.certificate).toString("base64") }],
        users: [{ name: "nobody" }],
        contexts: [{ name: "x", cluster: "c", user: "nobody" }],
        currentContext: "x",
      });
      await expect(anonymous.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NAMESPACE })).rejects.toMatchObject({ code: 401 });
      await cluster.jm.stop(30_000);
      expect(await pods(core)).toEqual([]);
    } finally {
      await cluster.jm.stop();
    }

    // A token the API server does not accept (another cluster's, a deleted service account's): the
    // provider cannot list, says 401 and what to check, starts nothing; a job waiting for slots fails
    // with that reason, and the JobManager keeps serving.
    const wrongSa = server.writeServiceAccount(join(work, "in-cluster", "wrong-serviceaccount"), NAMESPACE, "a-token-of-another-cluster");
    const wrong = new Cluster(inCluster("in-cluster-wrong", wrongSa, { "jobmanager.slot-request.timeout": "3s" }), pod);
    await wrong.start();
    try {
      const refused = await wrong.jm.waitForLog((l) => String(l.msg).startsWith("the kubernetes provider cannot list its TaskManagers"), 30_000);
      expect(refused.msg).toMatch(
        new RegExp(
          `Kubernetes API refused to list the TaskManager pods \\(.*\\): 401 Unauthorized \\(the API server refused the token in ${wrongSa}/token: check that the JobManager's pod runs with its service account`,
        ),
      );
      const submitted = await wrong.submit("e2e/jobs/count-to.ts", 1);
      expect(submitted.status).toBe(202);
      const failed = await wrong.until(
        "the job failed for want of slots",
        () => wrong.job(submitted.body.jobid),
        (j) => j.state === "FAILED",
        30_000,
      );
      expect(failed.failure?.code).toBe("NO_RESOURCE_AVAILABLE");
      expect(failed.failure?.message).toMatch(
        /the kubernetes provider cannot start TaskManagers \(cannot list its TaskManagers: PROVIDER_FAILED: .*401 Unauthorized \(the API server refused the token/,
      );
      expect((await wrong.rest("GET", "/overview")).status).toBe(200);
      expect(wrong.jm.hasExited).toBe(false);
      expect(await pods(core)).toEqual([]);
    } finally {
      await wrong.jm.stop(30_000);
    }
  }, 180_000);

  it("refuses to start without an image, or with a kubeconfig that does not exist", async () => {
    const base = { "rest.port": 0, "jobmanager.rpc.port": 0, "jobmanager.storage.dir": join(work, "bad"), "resourcemanager.provider": "kubernetes" };
    const noImage = new RiffleProcess("jobmanager", ["jobmanager", ...setFlags(base)]);
    expect((await noImage.waitForExit(20_000)).code).toBe(1);
    expect(noImage.stderr.join("\n")).toMatch(/resourcemanager.kubernetes.image is empty: set it to the Riffle image/);
    const noConfig = new RiffleProcess("jobmanager", [
      "jobmanager",
      ...setFlags({ ...base, "resourcemanager.kubernetes.image": "riffle:1", "resourcemanager.kubernetes.kubeconfig": join(work, "nope.yaml") }),
    ]);
    expect((await noConfig.waitForExit(20_000)).code).toBe(1);
    expect(noConfig.stderr.join("\n")).toMatch(/resourcemanager.kubernetes.kubeconfig: .*nope.yaml does not exist/);
    // In a pod whose service account token is not mounted.
    const noToken = new RiffleProcess(
      "jobmanager",
      [
        "jobmanager",
        ...setFlags({
          ...base,
          "resourcemanager.kubernetes.image": "riffle:1",
          "resourcemanager.kubernetes.in-cluster.service-account-dir": join(work, "no-serviceaccount"),
        }),
      ],
      { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "6443", KUBECONFIG: "" },
    );
    expect((await noToken.waitForExit(20_000)).code).toBe(1);
    expect(noToken.stderr.join("\n")).toMatch(
      /KUBERNETES_SERVICE_HOST is set \(the JobManager runs in a pod\), but its service account's token is not at .*no-serviceaccount\/token: mount the service account token/,
    );
  }, 60_000);
});
