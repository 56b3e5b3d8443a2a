import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { RiffleError, type RiffleConfig } from "@riffle/shared";

/** Where Kubernetes mounts a pod's service account: its token, the cluster's CA certificate, its namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Where the kubernetes provider's credentials come from:
 * - `kubeconfig`: a kubeconfig file (`resourcemanager.kubernetes.kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`);
 * - `in-cluster`: in a pod, its service account (the API server at `$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`,
 *   the token and CA certificate in the service-account directory).
 */
export type KubeCredentials =
  | { kind: "kubeconfig"; file: string; from: "resourcemanager.kubernetes.kubeconfig" | "$KUBECONFIG" | "~/.kube/config" }
  | { kind: "in-cluster"; dir: string; server: string };

/**
 * Which credentials the provider uses, decided once from the configuration and the environment. A
 * kubeconfig named by the configuration or $KUBECONFIG comes first (the user chose it); then, in a pod
 * (`KUBERNETES_SERVICE_HOST` set, as the kubelet sets it in every container), its service account, as
 * client-go's in-cluster configuration; then ~/.kube/config. client-node's `loadFromDefault` tries
 * ~/.kube/config before the service account: in a pod, a kubeconfig that happens to be in the image's
 * home is less likely meant than the service account the Deployment was given.
 *
 * CONFIG_INVALID when none can work: in a pod without a mounted token, or nowhere to look.
 */
export function findCredentials(config: RiffleConfig, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): KubeCredentials {
  const named = config["resourcemanager.kubernetes.kubeconfig"];
  if (named) return { kind: "kubeconfig", file: named, from: "resourcemanager.kubernetes.kubeconfig" };
  if (env.KUBECONFIG) return { kind: "kubeconfig", file: env.KUBECONFIG, from: "$KUBECONFIG" };
  const host = env.KUBERNETES_SERVICE_HOST;
  const dir = config["resourcemanager.kubernetes.in-cluster.service-account-dir"];
  if (host) {
    const port = env.KUBERNETES_SERVICE_PORT || "443";
    for (const file of ["token", "ca.crt"]) {
      if (!existsSync(join(dir, file))) {
        throw new RiffleError(
          "CONFIG_INVALID",
          `kubernetes provider: KUBERNETES_SERVICE_HOST is set (the JobManager runs in a pod), but its service account's ${file} is not at ${join(dir, file)}: ` +
            "mount the service account token (automountServiceAccountToken: true on the pod or its service account), " +
            "set resourcemanager.kubernetes.in-cluster.service-account-dir to where it is mounted, or name a kubeconfig in resourcemanager.kubernetes.kubeconfig",
        );
      }
    }
    return { kind: "in-cluster", dir, server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}` };
  }
  const file = join(home, ".kube", "config");
  if (existsSync(file)) return { kind: "kubeconfig", file, from: "~/.kube/config" };
  throw new RiffleError(
    "CONFIG_INVALID",
    "kubernetes provider: no Kubernetes credentials: set resourcemanager.kubernetes.kubeconfig (or $KUBECONFIG) to a kubeconfig file, " +
      "or run the JobManager in a pod with a service account (KUBERNETES_SERVICE_HOST set and its token mounted)",
  );
}

/** Loads the credentials into client-node's KubeConfig (CONFIG_INVALID if it cannot be read or names no cluster). */
export function loadKubeConfig(KubeConfigClass: typeof KubeConfig, creds: KubeCredentials): KubeConfig {
  const kc = new KubeConfigClass();
  try {
    if (creds.kind === "in-cluster") loadInCluster(kc, creds);
    else if (creds.from === "$KUBECONFIG")
      kc.loadFromDefault(); // a list of files, merged as kubectl merges them
    else kc.loadFromFile(creds.file);
  } catch (err) {
    throw new RiffleError("CONFIG_INVALID", `kubernetes provider: cannot load ${describeCredentials(creds)}: ${(err as Error).message}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) {
    throw new RiffleError("CONFIG_INVALID", `kubernetes provider: ${describeCredentials(creds)} names no current cluster; set its current-context`);
  }
  return kc;
}

/**
 * The in-cluster configuration as client-node's `loadFromCluster` builds it (the token as a
 * `tokenFile` provider, which reads it again every minute, so a rotated bound token is picked up as
 * client-go does), but from a directory that may be elsewhere than the standard mount (the key
 * `resourcemanager.kubernetes.in-cluster.service-account-dir`; `loadFromCluster` only takes a prefix of
 * the standard path), and with the namespace file's content trimmed.
 */
function loadInCluster(kc: KubeConfig, creds: Extract<KubeCredentials, { kind: "in-cluster" }>): void {
  const namespaceFile = join(creds.dir, "namespace");
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() || undefined : undefined;
  kc.loadFromOptions({
    clusters: [{ name: "inCluster", server: creds.server, caFile: join(creds.dir, "ca.crt"), skipTLSVerify: false }],
    users: [{ name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: join(creds.dir, "token") } } }],
    contexts: [{ name: "inClusterContext", cluster: "inCluster", user: "inClusterUser", ...(namespace ? { namespace } : {}) }],
    currentContext: "inClusterContext",
  });
}

/** The namespace the TaskManager pods go to: the configured one, else the kubeconfig context's (in a pod, its service account's), else `default`. */
export function podNamespace(config: RiffleConfig, kc: KubeConfig): string {
  return config["resourcemanager.kubernetes.namespace"] || kc.getContextObject(kc.getCurrentContext())?.namespace || "default";
}

/** "the service account in <dir> (in-cluster)" or "kubeconfig <file> (from …)", for messages. */
export function describeCredentials(creds: KubeCredentials): string {
  return creds.kind === "in-cluster"
    ? `the service account in ${creds.dir} (in-cluster)`
    : `kubeconfig ${creds.file}${creds.from === "resourcemanager.kubernetes.kubeconfig" ? "" : ` (from ${creds.from})`}`;
}

/** What to check when the API answers 401 to these credentials. */
export function unauthorizedHint(creds: KubeCredentials): string {
  return creds.kind === "in-cluster"
    ? `the API server refused the token in ${join(creds.dir, "token")}: check that the JobManager's pod runs with its service account and a current token ` +
        "(a token of a deleted service account or another cluster is refused), and that KUBERNETES_SERVICE_HOST/PORT name this cluster's API server"
    : `the API server refused the credentials of ${describeCredentials(creds)}: check its current context's user (token, client certificate, or exec plugin)`;
}
