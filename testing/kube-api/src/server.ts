import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Server, createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { generate } from "selfsigned";
import { Kubelet } from "./kubelet.js";
import { parseFieldSelector, parseLabelSelector } from "./selector.js";
import { type KubeObject, ObjectStore, type StoredEvent, StoreError } from "./store.js";
import { BodyRefused, type Cause, type ModelKind, parseQuantity, validateBody } from "./validation.js";

export interface KubeApiServerOptions {
  /** Where pods' working directories and container logs go. */
  dataDir: string;
  /** Namespaces that exist (default `["default"]`); objects in others are refused with 404, as a real server does. */
  namespaces?: string[];
  /** Service accounts that exist in every namespace (default `["default"]`); a pod naming another is refused with 403. */
  serviceAccounts?: string[];
  /** A bearer token every request must carry (401 otherwise); none: no authentication. */
  token?: string;
  /** A ResourceQuota on pods per namespace: creating one past it is refused with 403, as the quota admission does. */
  quota?: { pods?: number };
  /** How many changes are kept for watches to resume from; older versions get 410 Expired. */
  historyLimit?: number;
  /** Port to listen on (127.0.0.1); 0 or none: a free one. */
  port?: number;
  /** Certificate and key (PEM) to serve with, e.g. another server's `tls` (a restart on the same port); none: a new self-signed one. */
  tls?: { cert: string; key: string };
}

/** The resources served: what kind each holds and which schema validates it. */
interface Resource {
  kind: ModelKind;
  apiVersion: string;
  listKind: string;
}
const RESOURCES: Record<string, Resource> = {
  pods: { kind: "Pod", apiVersion: "v1", listKind: "PodList" },
  deployments: { kind: "Deployment", apiVersion: "apps/v1", listKind: "DeploymentList" },
};

/** What a list or watch selects: labels and fields of the object. */
interface LabelSelector {
  matches(o: KubeObject): boolean;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; kind?: string; causes?: Cause[] },
  ) {
    super(message);
  }
}

/**
 * A Kubernetes API server for tests, small enough to read: core/v1 pods and apps/v1 deployments in
 * a few namespaces, kept in memory with resourceVersions (create, get, list and watch with label
 * and field selectors, delete with grace periods and owner-reference garbage collection), every request body
 * checked against the official schemas (kubernetes-models) and refused with the Status objects a real
 * server answers. Its kubelet runs each pod's container command as a local process (`kubelet.ts`).
 *
 * What it is not: no admission chain beyond the checks listed here, no scheduler (one node), no
 * images (the container's command runs on this machine), no network (every pod is 127.0.0.1), no
 * RBAC, no update or patch, no pagination, no Table output; a watch with a selector filters
 * changes by the object as it is after them (a real one also sends DELETED when an object stops
 * matching). It serves HTTPS with a self-signed certificate that its kubeconfig names as the
 * certificate authority, and a bearer token if given one.
 */
export class KubeApiServer {
  readonly store: ObjectStore;
  readonly kubelet: Kubelet;
  private readonly server: Server;
  private readonly namespaces: Set<string>;
  private readonly serviceAccounts: Set<string>;
  private quota: { pods?: number };
  private readonly watches = new Set<ServerResponse>();
  private readonly unsubscribeGc: () => void;

  private constructor(
    private readonly options: KubeApiServerOptions,
    /** The server's certificate and key (PEM); the certificate is the kubeconfig's certificate authority. */
    readonly tls: { cert: string; key: string },
  ) {
    this.store = new ObjectStore(options.historyLimit);
    this.kubelet = new Kubelet(this.store, options.dataDir);
    this.namespaces = new Set(options.namespaces ?? ["default"]);
    this.serviceAccounts = new Set(options.serviceAccounts ?? ["default"]);
    this.quota = options.quota ?? {};
    this.server = createServer(tls, (req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    this.unsubscribeGc = this.store.subscribe((e) => this.collectGarbage(e));
  }

  static async start(options: KubeApiServerOptions): Promise<KubeApiServer> {
    // A certificate of its own for 127.0.0.1, as a cluster's CA signs the API server's: the client
    // checks it (it refuses plain HTTP unless told to skip TLS verification).
    const pem = options.tls
      ? undefined
      : await generate([{ name: "commonName", value: "riffle-kube-api" }], {
          keyType: "ec",
          curve: "P-256",
          notAfterDate: new Date(Date.now() + 7 * 86_400_000),
          extensions: [
            { name: "basicConstraints", cA: true },
            { name: "keyUsage", digitalSignature: true, keyCertSign: true },
            { name: "extKeyUsage", serverAuth: true },
            {
              name: "subjectAltName",
              altNames: [
                { type: 7, ip: "127.0.0.1" },
                { type: 2, value: "localhost" },
              ],
            },
          ],
        });
    const s = new KubeApiServer(options, options.tls ?? { cert: pem!.cert, key: pem!.private });
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    return s;
  }

  /** The server's certificate (PEM). */
  get certificate(): string {
    return this.tls.cert;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Changes the pod quota (undefined: none) for the requests to come. */
  setQuota(quota: { pods?: number }): void {
    this.quota = quota;
  }

  /** Writes a kubeconfig for this server (with its token, if any) to `path`; returns `path`. */
  writeKubeconfig(path: string, namespace = "default"): string {
    const user = this.options.token ? `{ token: ${JSON.stringify(this.options.token)} }` : "{}";
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: riffle-test\n  cluster: { server: ${JSON.stringify(this.url)}, certificate-authority-data: ${Buffer.from(this.certificate).toString("base64")} }`,
        "users:",
        `- name: riffle-test\n  user: ${user}`,
        "contexts:",
        `- name: riffle-test\n  context: { cluster: riffle-test, user: riffle-test, namespace: ${namespace} }`,
        "current-context: riffle-test",
        "",
      ].join("\n"),
    );
    return path;
  }

  /**
   * Writes what Kubernetes mounts in a pod at /var/run/secrets/kubernetes.io/serviceaccount into
   * `dir`: `token` (this server's, or `token` to present another), `ca.crt` (the certificate it
   * serves with) and `namespace`. With KUBERNETES_SERVICE_HOST=127.0.0.1 and
   * KUBERNETES_SERVICE_PORT=`port`, a client's in-cluster configuration reaches this server. Returns `dir`.
   */
  writeServiceAccount(dir: string, namespace = "default", token = this.options.token): string {
    if (token === undefined) throw new Error("this server was started without a token: a service account needs one");
    mkdirSync(dir, { recursive: true });
    // As the kubelet projects them: no trailing newline.
    writeFileSync(join(dir, "token"), token);
    writeFileSync(join(dir, "ca.crt"), this.certificate);
    writeFileSync(join(dir, "namespace"), namespace);
    return dir;
  }

  /** The port it listens on (for KUBERNETES_SERVICE_PORT). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops serving; `killPods`: kill every pod's processes too (else they are left running). */
  async close(killPods = true): Promise<void> {
    this.unsubscribeGc();
    for (const w of this.watches) w.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.kubelet.close(killPods);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      throw new HttpError(401, "Unauthorized", "Unauthorized");
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    const discovery = this.discovery(path);
    if (discovery) return send(res, 200, discovery);
    const m = path.match(/^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/(pods|deployments)(?:\/([^/]+))?(?:\/(log))?$/);
    const resource = m && RESOURCES[m[2]!];
    if (!m || !resource || !path.startsWith(resource.apiVersion === "v1" ? "/api/v1/" : "/apis/apps/v1/") || (m[4] && m[2] !== "pods")) {
      throw new HttpError(404, "NotFound", "the server could not find the requested resource");
    }
    const [namespace, plural, name, sub] = [m[1]!, m[2]!, m[3], m[4]];
    const params = url.searchParams;
    if (sub === "log" && method === "GET") return this.podLog(res, namespace, name!, params.get("container") ?? undefined);
    if (name === undefined && method === "GET") {
      const selector = parseSelector(params.get("labelSelector"), params.get("fieldSelector"));
      if (params.get("watch") === "true" || params.get("watch") === "1") return this.watch(req, res, plural, namespace, selector, params);
      const items = this.store.list(plural, namespace, selector);
      return send(res, 200, {
        kind: resource.listKind,
        apiVersion: resource.apiVersion,
        metadata: { resourceVersion: String(this.store.resourceVersion) },
        items,
      });
    }
    if (name === undefined && method === "POST") {
      const body = checkTypeMeta(await readJson(req), resource);
      return send(res, 201, this.create(plural, resource, namespace, body));
    }
    if (name !== undefined && method === "GET") {
      const o = this.store.get(plural, namespace, name);
      if (!o) throw notFound(plural, name);
      return send(res, 200, o);
    }
    if (name !== undefined && method === "DELETE") {
      const text = await readBody(req);
      const options = text.trim() === "" ? ({} as KubeObject) : (parseJson(text) as KubeObject);
      validateDeleteOptions(options);
      const grace = params.get("gracePeriodSeconds") ?? (options as { gracePeriodSeconds?: number }).gracePeriodSeconds;
      const preconditions = (options as { preconditions?: { uid?: string; resourceVersion?: string } }).preconditions;
      return send(res, 200, this.remove(plural, namespace, name, grace === undefined ? undefined : Number(grace), preconditions));
    }
    throw new HttpError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource (${method} ${path})`);
  }

  private create(plural: string, resource: Resource, namespace: string, body: KubeObject): KubeObject {
    if (body.metadata?.namespace !== undefined && body.metadata.namespace !== namespace) {
      throw new HttpError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
    }
    try {
      validateBody(resource.kind, body);
    } catch (err) {
      if (!(err instanceof BodyRefused)) throw err;
      const code = err.reason === "Invalid" ? 422 : 400;
      throw new HttpError(code, err.reason, err.message, {
        name: body.metadata?.name,
        kind: resource.kind,
        causes: err.causes,
      });
    }
    if (!this.namespaces.has(namespace)) throw new HttpError(404, "NotFound", `namespaces "${namespace}" not found`, { name: namespace, kind: "namespaces" });
    if (plural === "pods") {
      defaultPod(body);
      this.admitPod(namespace, body);
    }
    try {
      return this.store.create(plural, namespace, body);
    } catch (err) {
      if (err instanceof StoreError && err.reason === "AlreadyExists") {
        throw new HttpError(409, "AlreadyExists", `${plural} "${body.metadata.name}" already exists`, { name: body.metadata.name, kind: plural });
      }
      throw err;
    }
  }

  /** What a real server's admission plugins would refuse: a missing service account, a full quota. */
  private admitPod(namespace: string, pod: KubeObject): void {
    const name = pod.metadata.name ?? pod.metadata.generateName ?? "";
    const sa = (pod.spec as { serviceAccountName: string }).serviceAccountName;
    if (!this.serviceAccounts.has(sa)) {
      throw new HttpError(
        403,
        "Forbidden",
        `pods "${name}" is forbidden: error looking up service account ${namespace}/${sa}: serviceaccount "${sa}" not found`,
        {
          name,
          kind: "pods",
        },
      );
    }
    const limit = this.quota.pods;
    if (limit !== undefined) {
      const used = this.store.list("pods", namespace).filter((p) => !isTerminal(p)).length;
      if (used + 1 > limit) {
        throw new HttpError(
          403,
          "Forbidden",
          `pods "${name}" is forbidden: exceeded quota: riffle-test-quota, requested: pods=1, used: pods=${used}, limited: pods=${limit}`,
          { name, kind: "pods" },
        );
      }
    }
  }

  private remove(plural: string, namespace: string, name: string, grace: number | undefined, pre?: { uid?: string; resourceVersion?: string }): KubeObject {
    const current = this.store.get(plural, namespace, name);
    if (!current) throw notFound(plural, name);
    if ((pre?.uid && pre.uid !== current.metadata.uid) || (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion)) {
      throw new HttpError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${plural} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
        {
          name,
          kind: plural,
        },
      );
    }
    if (plural !== "pods") return this.store.remove(plural, namespace, name);
    if (grace !== undefined && (!Number.isInteger(grace) || grace < 0)) throw new HttpError(400, "BadRequest", `invalid gracePeriodSeconds: ${grace}`);
    return this.kubelet.delete(namespace, name, grace);
  }

  /**
   * A watch: the changes after `resourceVersion` (or, without one, the current objects as ADDED),
   * then every change as it happens, one JSON event per line of a chunked response, until the client
   * goes, `timeoutSeconds` pass, or the server closes. A version older than the history gets one
   * ERROR event with a 410 Expired Status, then the end, as from a real server.
   */
  private watch(
    req: IncomingMessage,
    res: ServerResponse,
    plural: string,
    namespace: string,
    selector: LabelSelector | undefined,
    params: URLSearchParams,
  ): void {
    const rv = params.get("resourceVersion");
    const matches = (e: StoredEvent) => e.resource === plural && e.object.metadata.namespace === namespace && (!selector || selector.matches(e.object));
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked", "cache-control": "no-cache, private" });
    // Headers now, not with the first event: a client waits for them before it reads events.
    res.flushHeaders();
    const write = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    let backlog: StoredEvent[];
    if (rv === null || rv === "" || rv === "0") {
      backlog = this.store
        .list(plural, namespace, selector)
        .map((object) => ({ type: "ADDED", resource: plural, object, rv: Number(object.metadata.resourceVersion) }));
    } else {
      try {
        backlog = this.store.since(plural, namespace, Number(rv)).filter(matches);
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        write("ERROR", status(410, "Expired", err.message));
        res.end();
        return;
      }
    }
    // The store calls listeners synchronously, so nothing happens between the backlog and the subscription.
    for (const e of backlog) write(e.type, e.object);
    const unsubscribe = this.store.subscribe((e) => {
      if (matches(e)) write(e.type, e.object);
    });
    this.watches.add(res);
    const timeout = Number(params.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const end = () => {
      unsubscribe();
      clearTimeout(timer);
      this.watches.delete(res);
    };
    res.once("close", end);
    req.once("close", end);
  }

  private podLog(res: ServerResponse, namespace: string, name: string, container: string | undefined): void {
    const pod = this.store.get("pods", namespace, name);
    if (!pod) throw notFound("pods", name);
    const containers = (pod.spec as { containers: Array<{ name: string }> }).containers;
    const c = container ?? containers[0]!.name;
    let text = "";
    try {
      text = readFileSync(join(this.kubelet.logDir, `${namespace}_${name}_${c}.log`), "utf8");
    } catch {
      throw new HttpError(400, "BadRequest", `container "${c}" in pod "${name}" is waiting to start`);
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(text);
  }

  /** Deleting an owner deletes its dependents (background propagation, as the garbage collector). */
  private collectGarbage(e: StoredEvent): void {
    if (e.type !== "DELETED") return;
    const uid = e.object.metadata.uid;
    const namespace = e.object.metadata.namespace!;
    for (const plural of Object.keys(RESOURCES)) {
      for (const o of this.store.list(plural, namespace)) {
        if (o.metadata.ownerReferences?.some((r) => r.uid === uid) && !o.metadata.deletionTimestamp) {
          queueMicrotask(() => {
            try {
              this.remove(plural, namespace, o.metadata.name!, undefined);
            } catch {
              // Gone meanwhile.
            }
          });
        }
      }
    }
  }

  private discovery(path: string): unknown {
    const resource = (name: string, kind: string) => ({
      name,
      singularName: kind.toLowerCase(),
      namespaced: true,
      kind,
      verbs: ["create", "delete", "get", "list", "watch"],
    });
    switch (path) {
      case "/version":
        return { major: "1", minor: "31", gitVersion: "v1.31.0-riffle-test", platform: "linux/amd64" };
      case "/api":
        return {
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: this.url.slice("https://".length) }],
        };
      case "/api/v1":
        return {
          kind: "APIResourceList",
          groupVersion: "v1",
          resources: [resource("pods", "Pod"), { name: "pods/log", namespaced: true, kind: "Pod", verbs: ["get"] }],
        };
      case "/apis":
        return {
          kind: "APIGroupList",
          apiVersion: "v1",
          groups: [{ name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }], preferredVersion: { groupVersion: "apps/v1", version: "v1" } }],
        };
      case "/apis/apps/v1":
        return { kind: "APIResourceList", apiVersion: "v1", groupVersion: "apps/v1", resources: [resource("deployments", "Deployment")] };
      default:
        return undefined;
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof HttpError) {
      send(res, err.code, status(err.code, err.reason, err.message, err.details));
    } else if (err instanceof StoreError) {
      const code = err.reason === "NotFound" ? 404 : err.reason === "Expired" ? 410 : 409;
      send(res, code, status(code, err.reason, err.message));
    } else send(res, 500, status(500, "InternalError", `Internal error occurred: ${(err as Error).message}`));
  }
}

/** A real server's error answer: a `Status` with its reason, code and details. */
export function status(code: number, reason: string, message: string, details?: { name?: string; kind?: string; causes?: Cause[] }): unknown {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

function notFound(plural: string, name: string): HttpError {
  return new HttpError(404, "NotFound", `${plural} "${name}" not found`, { name, kind: plural });
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The label and field selectors of a list or watch, as one test of an object (undefined: everything). */
function parseSelector(labels: string | null, fields: string | null): LabelSelector | undefined {
  if (!labels && !fields) return undefined;
  try {
    const byLabels = labels ? parseLabelSelector(labels) : undefined;
    const byFields = fields ? parseFieldSelector(fields) : undefined;
    return { matches: (o) => (!byLabels || byLabels.matches(o.metadata.labels ?? {})) && (!byFields || byFields(o)) };
  } catch (err) {
    throw new HttpError(400, "BadRequest", (err as Error).message);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "BadRequest", `the body of the request was in an unknown format: ${(err as Error).message}`);
  }
}

async function readJson(req: IncomingMessage): Promise<KubeObject> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("application/json")) {
    throw new HttpError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json (got ${JSON.stringify(type)})`,
    );
  }
  const body = parseJson(await readBody(req));
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "BadRequest", "the body of the request must be a JSON object");
  return body as KubeObject;
}

function checkTypeMeta(body: KubeObject, resource: Resource): KubeObject {
  if (body.apiVersion !== undefined && body.apiVersion !== resource.apiVersion) {
    throw new HttpError(400, "BadRequest", `the API version in the data (${body.apiVersion}) does not match the expected API version (${resource.apiVersion})`);
  }
  if (body.kind !== undefined && body.kind !== resource.kind) {
    throw new HttpError(
      400,
      "BadRequest",
      `${resource.kind} in version "${resource.apiVersion}" cannot be handled as a ${resource.kind}: the kind in the data (${body.kind}) is not ${resource.kind}`,
    );
  }
  body.apiVersion = resource.apiVersion;
  body.kind = resource.kind;
  body.metadata ??= {};
  return body;
}

function validateDeleteOptions(options: KubeObject): void {
  try {
    validateBody("DeleteOptions", options);
  } catch (err) {
    if (err instanceof BodyRefused) throw new HttpError(400, "BadRequest", err.message, { kind: "DeleteOptions", causes: err.causes });
    throw err;
  }
}

/** The defaults a real server fills in on create (those the kubelet and the provider read). */
function defaultPod(pod: KubeObject): void {
  const spec = pod.spec as Record<string, unknown>;
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.serviceAccountName ??= (spec.serviceAccount as string | undefined) ?? "default";
  pod.status = {
    phase: "Pending",
    qosClass: qosClass(spec.containers as Array<{ resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } }>),
  };
}

/** Guaranteed: every container's cpu and memory limited, requests equal to limits; BestEffort: nothing requested; else Burstable. */
function qosClass(containers: Array<{ resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } }>): string {
  if (containers.every((c) => Object.keys(c.resources?.requests ?? {}).length === 0 && Object.keys(c.resources?.limits ?? {}).length === 0))
    return "BestEffort";
  const guaranteed = containers.every((c) =>
    ["cpu", "memory"].every((r) => {
      const limit = c.resources?.limits?.[r];
      const request = c.resources?.requests?.[r] ?? limit;
      return limit !== undefined && parseQuantity(request as string) === parseQuantity(limit as string);
    }),
  );
  return guaranteed ? "Guaranteed" : "Burstable";
}

export function isTerminal(pod: KubeObject): boolean {
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  return phase === "Succeeded" || phase === "Failed";
}
