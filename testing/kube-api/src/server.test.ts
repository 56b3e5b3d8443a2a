import { mkdtempSync, rmSync } from "node:fs";
import { type IncomingMessage, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KubeApiServer } from "./server.js";

/** The test server through plain HTTP (to see exactly what it answers) and through the real client. */
let dir: string;
let api: KubeApiServer;
const TOKEN = "test-token";
// biome-ignore lint/suspicious/noExplicitAny: JSON read from the wire, checked by the assertions
type Wire = Record<string, any>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "riffle-kube-api-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await api?.close(true);
});

async function start(options: { historyLimit?: number; quota?: { pods?: number } } = {}): Promise<KubeApiServer> {
  api = await KubeApiServer.start({ dataDir: mkdtempSync(join(dir, "server-")), token: TOKEN, ...options });
  return api;
}

/** One HTTPS request to the server (trusting its certificate); `token: false` sends none. */
function send(method: string, path: string, body?: unknown, token: string | false = TOKEN): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(api.url + path, {
      method,
      ca: api.certificate,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(JSON.stringify(body)) }),
      },
    });
    req.once("response", resolve);
    req.once("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function call(method: string, path: string, body?: unknown, token: string | false = TOKEN): Promise<{ status: number; body: Wire }> {
  const res = await send(method, path, body, token);
  let text = "";
  for await (const chunk of res) text += chunk;
  return { status: res.statusCode!, body: JSON.parse(text) as Wire };
}

const PODS = "/api/v1/namespaces/default/pods";

/** A pod whose one container runs `node -e <script>`. */
function nodePod(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "test" } },
    spec: { restartPolicy: "Never", containers: [{ name: "main", image: "ignored:1", command: [process.execPath, "-e", script], ...extra }] },
  };
}

/** Reads a watch's events until `done` says enough (or the deadline passes). */
async function watchEvents(query: string, done: (events: Array<{ type: string; object: Wire }>) => boolean, timeoutMs = 20_000) {
  const events: Array<{ type: string; object: Wire }> = [];
  const res = await send("GET", `${PODS}?watch=true&${query}`);
  const timer = setTimeout(() => res.destroy(new Error(`no more events within ${timeoutMs} ms`)), timeoutMs);
  try {
    expect(res.statusCode).toBe(200);
    let buffered = "";
    for await (const chunk of res) {
      buffered += Buffer.from(chunk).toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        events.push(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
      }
      if (done(events)) break;
    }
    return events;
  } catch (err) {
    throw new Error(
      `watch ended before the expected events (${(err as Error).message}): ${JSON.stringify(events.map((e) => [e.type, e.object.metadata?.name, e.object.status?.phase]))}`,
    );
  } finally {
    clearTimeout(timer);
    res.destroy();
  }
}

describe("Kubernetes API test server", () => {
  it("refuses a malformed pod with 422 Invalid and its causes, an undecodable one with 400, and stores neither", async () => {
    await start();
    const bad = await call("POST", PODS, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "Bad_Name" },
      spec: { containers: [{ name: "main", resources: { requests: { cpu: "2" }, limits: { cpu: "1" } } }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({ kind: "Status", status: "Failure", reason: "Invalid", code: 422, details: { name: "Bad_Name", kind: "Pod" } });
    const causes = (bad.body.details as { causes: Array<{ field: string; reason: string }> }).causes;
    expect(causes.map((c) => [c.field, c.reason])).toEqual([
      ["metadata.name", "FieldValueInvalid"],
      ["spec.containers[0].image", "FieldValueRequired"],
      ["spec.containers[0].resources.requests", "FieldValueInvalid"],
    ]);
    expect(bad.body.message).toMatch(/^Pod "Bad_Name" is invalid: \[metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);

    // The schema's own required fields (a container without a name).
    const unnamed = await call("POST", PODS, { metadata: { name: "x" }, spec: { containers: [{ image: "i" }] } });
    expect(unnamed.status).toBe(422);
    expect(unnamed.body.details).toMatchObject({ causes: [{ field: "spec.containers[0].name", reason: "FieldValueRequired" }] });

    // A string where a list belongs and a malformed quantity cannot even be decoded by a real server: 400.
    const undecodable = await call("POST", PODS, nodePod("y", "", { command: "node", resources: { limits: { memory: "lots" } } }));
    expect(undecodable.status).toBe(400);
    expect(undecodable.body).toMatchObject({ kind: "Status", reason: "BadRequest", code: 400 });
    expect(undecodable.body.message).toMatch(/spec.containers\[0\].command: Invalid value: must be array/);
    expect(undecodable.body.message).toMatch(/spec.containers\[0\].resources.limits.memory/);

    const wrongKind = await call("POST", PODS, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "z" } });
    expect(wrongKind.status).toBe(400);

    const list = await call("GET", PODS);
    expect(list.body).toMatchObject({ kind: "PodList", items: [] });
  });

  it("answers 401 without the token, 404 and 409 with Status objects, 403 past the quota or for a missing service account", async () => {
    await start();
    expect(await call("GET", PODS, undefined, false)).toMatchObject({ status: 401, body: { kind: "Status", reason: "Unauthorized", code: 401 } });

    expect(await call("GET", `${PODS}/nope`)).toMatchObject({
      status: 404,
      body: { reason: "NotFound", message: 'pods "nope" not found', details: { name: "nope", kind: "pods" } },
    });
    expect(await call("DELETE", `${PODS}/nope`)).toMatchObject({ status: 404, body: { reason: "NotFound" } });
    expect((await call("POST", "/api/v1/namespaces/elsewhere/pods", nodePod("a", ""))).body).toMatchObject({
      code: 404,
      message: 'namespaces "elsewhere" not found',
    });

    expect((await call("POST", PODS, nodePod("a", "setTimeout(() => {}, 60000)"))).status).toBe(201);
    expect(await call("POST", PODS, nodePod("a", ""))).toMatchObject({ status: 409, body: { reason: "AlreadyExists", message: 'pods "a" already exists' } });
    api.setQuota({ pods: 1 });
    expect(await call("POST", PODS, nodePod("b", ""))).toMatchObject({
      status: 403,
      body: { reason: "Forbidden", message: 'pods "b" is forbidden: exceeded quota: riffle-test-quota, requested: pods=1, used: pods=1, limited: pods=1' },
    });
    api.setQuota({});
    const sa = nodePod("c", "");
    (sa.spec as Record<string, unknown>).serviceAccountName = "riffle";
    expect(await call("POST", PODS, sa)).toMatchObject({
      status: 403,
      body: { reason: "Forbidden", message: 'pods "c" is forbidden: error looking up service account default/riffle: serviceaccount "riffle" not found' },
    });
  });

  it("runs a pod's command with its env: Pending → Running → Succeeded or Failed with the exit code; no command: CreateContainerError", async () => {
    await start();
    const script =
      "if (process.env.GREETING !== 'hello ' + process.env.POD_NAME || process.env.HOME) process.exit(9); setTimeout(() => process.exit(Number(process.argv[1])), 300)";
    const env = [
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "GREETING", value: "hello $(POD_NAME)" },
    ];
    const from = (await call("GET", PODS)).body.metadata.resourceVersion;
    await call("POST", PODS, nodePod("ok", script, { env, args: ["0"] }));
    await call("POST", PODS, nodePod("fails", script, { env, args: ["3"] }));
    await call("POST", PODS, { metadata: { name: "image-only" }, spec: { containers: [{ name: "main", image: "riffle:latest" }] } });
    const phases = new Map<string, string[]>();
    let waiting: unknown;
    await watchEvents(`resourceVersion=${from}`, (es) => {
      for (const e of es.splice(0)) {
        const p = phases.get(e.object.metadata.name) ?? [];
        if (p.at(-1) !== e.object.status.phase) p.push(e.object.status.phase);
        phases.set(e.object.metadata.name, p);
        if (e.object.metadata.name === "fails" && e.object.status.phase === "Failed") {
          expect(e.object.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 3, reason: "Error" });
        }
        if (e.object.metadata.name === "image-only" && e.object.status.containerStatuses) waiting = e.object.status.containerStatuses[0].state.waiting;
      }
      return (
        phases.get("ok")?.at(-1) === "Succeeded" &&
        phases.get("fails")?.at(-1) === "Failed" &&
        waiting !== undefined &&
        (waiting as { reason: string }).reason !== "ContainerCreating"
      );
    });
    expect(phases.get("ok")).toEqual(["Pending", "Running", "Succeeded"]);
    expect(phases.get("fails")).toEqual(["Pending", "Running", "Failed"]);
    expect(phases.get("image-only")).toEqual(["Pending"]);
    expect(waiting).toMatchObject({ reason: "CreateContainerError", message: expect.stringMatching(/runs no images/) });
    const ok = await call("GET", `${PODS}/ok`);
    expect(ok.body).toMatchObject({ spec: { nodeName: "riffle-test-node" }, status: { phase: "Succeeded", podIP: "127.0.0.1" } });
  });

  it("watches deliver every change after a resourceVersion in order, and 410 Expired once the history is gone", async () => {
    await start({ historyLimit: 30 });
    const from = Number(((await call("GET", PODS)).body.metadata as { resourceVersion: string }).resourceVersion);
    await call("POST", PODS, nodePod("p1", "setTimeout(() => {}, 60000)"));
    await call("POST", PODS, { ...nodePod("p2", "setTimeout(() => {}, 60000)"), metadata: { name: "p2", labels: { app: "other" } } });
    // SIGTERM ends p1's process (no handler), well inside the grace period.
    const running = await watchEvents(`resourceVersion=${from}&labelSelector=app%3Dtest`, (es) => es.some((e) => e.object.status?.phase === "Running"));
    expect(running[0]).toMatchObject({ type: "ADDED", object: { metadata: { name: "p1" } } });
    expect(running.every((e) => e.object.metadata.name === "p1")).toBe(true);
    const deleted = await call("DELETE", `${PODS}/p1?gracePeriodSeconds=5`);
    expect(deleted.body).toMatchObject({ metadata: { deletionGracePeriodSeconds: 5 } });
    const all = await watchEvents(`resourceVersion=${from}`, (es) => es.some((e) => e.type === "DELETED"));
    const versions = all.map((e) => Number(e.object.metadata.resourceVersion));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions[0]).toBe(from + 1);
    expect(all[0]).toMatchObject({ type: "ADDED", object: { metadata: { name: "p1" } } });
    expect(all.filter((e) => e.type === "ADDED").map((e) => e.object.metadata.name)).toEqual(["p1", "p2"]);
    const p1 = all.filter((e) => e.object.metadata.name === "p1");
    expect(p1.at(-1)).toMatchObject({ type: "DELETED" });
    expect(p1.at(-2)!.object.status.containerStatuses[0].state.terminated).toMatchObject({ signal: 15, exitCode: 143 });
    // From the newest version: nothing old, only what comes next.
    const newest = Number(((await call("GET", PODS)).body.metadata as { resourceVersion: string }).resourceVersion);
    const next = watchEvents(`resourceVersion=${newest}`, (es) => es.some((e) => e.type === "DELETED"));
    await new Promise((r) => setTimeout(r, 100));
    await call("DELETE", `${PODS}/p2?gracePeriodSeconds=0`);
    expect((await next).map((e) => [e.type, e.object.metadata.name])).toEqual([["DELETED", "p2"]]);

    // More changes than the history keeps: a watch from the start gets 410 Expired.
    for (let i = 0; i < 8; i++) await call("POST", PODS, nodePod(`q${i}`, "process.exit(0)"));
    const gone = await watchEvents(`resourceVersion=${from}`, (es) => es.length > 0);
    expect(gone).toEqual([{ type: "ERROR", object: expect.objectContaining({ kind: "Status", reason: "Expired", code: 410 }) }]);
  });

  it("honours the grace period: SIGTERM, SIGKILL when it is over, then the pod is gone", async () => {
    await start();
    await call("POST", PODS, nodePod("stubborn", "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"));
    // Its SIGTERM handler is in place once it printed "up" (its log, through the API).
    const deadline = Date.now() + 20_000;
    while (!(await send("GET", `${PODS}/stubborn/log`).then(async (res) => (await res.toArray()).join("").includes("up")))) {
      if (Date.now() > deadline) throw new Error("the pod never printed up");
      await new Promise((r) => setTimeout(r, 50));
    }
    const pid = api.kubelet.pids("default", "stubborn")[0]!;
    const t0 = Date.now();
    await call("DELETE", PODS + "/stubborn", { kind: "DeleteOptions", apiVersion: "v1", gracePeriodSeconds: 1 });
    const events = await watchEvents(`resourceVersion=${api.store.resourceVersion}`, (es) => es.some((e) => e.type === "DELETED"));
    expect(Date.now() - t0, JSON.stringify(events.map((e) => [e.type, e.object.metadata, e.object.status?.containerStatuses]))).toBeGreaterThanOrEqual(900);
    const last = events.at(-2)!.object;
    expect(last.status.containerStatuses[0].state.terminated).toMatchObject({ signal: 9, exitCode: 137 });
    expect(() => process.kill(pid, 0)).toThrow();
    expect((await call("GET", PODS + "/stubborn")).status).toBe(404);
  });

  it("serves the real @kubernetes/client-node: create, list by label, watch, delete; garbage-collects a deleted owner's pods", async () => {
    await start();
    const kc = new KubeConfig();
    kc.loadFromFile(api.writeKubeconfig(join(dir, "kubeconfig")));
    const core = kc.makeApiClient(CoreV1Api);
    const deployment = (
      await call("POST", "/apis/apps/v1/namespaces/default/deployments", {
        metadata: { name: "owner" },
        spec: { selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "c", image: "i" }] } } },
      })
    ).body as { metadata: { uid: string } };
    const created = await core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: {
          name: "owned",
          labels: { role: "tm" },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "owner", uid: deployment.metadata.uid }],
        },
        spec: { restartPolicy: "Never", containers: [{ name: "main", image: "i", command: [process.execPath, "-e", "setInterval(() => {}, 1000)"] }] },
      },
    });
    expect(created.metadata?.uid).toBeTruthy();
    await expect(
      core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "no-containers" }, spec: { containers: [] } } }),
    ).rejects.toMatchObject({
      code: 422,
    });
    const list = await core.listNamespacedPod({ namespace: "default", labelSelector: "role=tm" });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(["owned"]);
    expect((await core.listNamespacedPod({ namespace: "default", labelSelector: "role notin (tm)" })).items).toEqual([]);
    expect((await core.listNamespacedPod({ namespace: "default", fieldSelector: "metadata.name=owned" })).items).toHaveLength(1);
    expect((await core.listNamespacedPod({ namespace: "default", fieldSelector: "metadata.name!=owned" })).items).toEqual([]);
    await expect(core.listNamespacedPod({ namespace: "default", fieldSelector: "spec.hostname=x" })).rejects.toMatchObject({ code: 400 });

    const seen: string[] = [];
    let resolveDeleted: () => void;
    const deleted = new Promise<void>((r) => {
      resolveDeleted = r;
    });
    const watch = await new Watch(kc).watch(
      PODS,
      { labelSelector: "role=tm", resourceVersion: list.metadata!.resourceVersion },
      (type, obj) => {
        seen.push(`${type} ${obj.status?.phase}`);
        if (type === "DELETED") resolveDeleted();
      },
      () => {},
    );
    // Deleting the owner deletes the pod (background propagation).
    expect((await call("DELETE", "/apis/apps/v1/namespaces/default/deployments/owner")).status).toBe(200);
    await deleted;
    watch.abort();
    expect(seen.at(-1)).toMatch(/^DELETED/);
    await expect(core.readNamespacedPod({ namespace: "default", name: "owned" })).rejects.toMatchObject({ code: 404 });
  });

  it("serves client-node's own in-cluster configuration (loadFromCluster): the mounted token and CA certificate; a wrong token gets 401", async () => {
    await start();
    // client-node reads the service account under <prefix>/var/run/secrets/kubernetes.io/serviceaccount.
    const prefix = mkdtempSync(join(dir, "pod-"));
    const mount = join(prefix, "var/run/secrets/kubernetes.io/serviceaccount");
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = "127.0.0.1";
    process.env.KUBERNETES_SERVICE_PORT = String(api.port);
    try {
      api.writeServiceAccount(mount, "default");
      const kc = new KubeConfig();
      kc.loadFromCluster(prefix);
      expect(kc.getCurrentCluster()?.server).toBe(api.url);
      expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe("default");
      expect((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default" })).items).toEqual([]);

      api.writeServiceAccount(mount, "default", "not-the-token");
      const wrong = new KubeConfig();
      wrong.loadFromCluster(prefix);
      // (client-node keeps no body for a status its API description does not list, as 401.)
      await expect(wrong.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default" })).rejects.toMatchObject({ code: 401 });
    } finally {
      for (const [key, value] of [
        ["KUBERNETES_SERVICE_HOST", saved.host],
        ["KUBERNETES_SERVICE_PORT", saved.port],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
