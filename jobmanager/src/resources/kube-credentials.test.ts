import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { loadConfig } from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_ACCOUNT_DIR, findCredentials, loadKubeConfig, podNamespace, unauthorizedHint } from "./kube-credentials.js";

let dir: string;
let sa: string;
let home: string;
let emptyHome: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "riffle-kube-credentials-"));
  sa = join(dir, "serviceaccount");
  mkdirSync(sa);
  writeFileSync(join(sa, "token"), "the-token");
  writeFileSync(join(sa, "ca.crt"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
  writeFileSync(join(sa, "namespace"), "riffle\n");
  home = join(dir, "home");
  mkdirSync(join(home, ".kube"), { recursive: true });
  writeFileSync(
    join(home, ".kube", "config"),
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{ name: c, cluster: { server: 'https://10.0.0.1:6443' } }]",
      "users: [{ name: u, user: { token: t } }]",
      "contexts: [{ name: x, context: { cluster: c, user: u, namespace: from-context } }]",
      "current-context: x",
    ].join("\n"),
  );
  emptyHome = join(dir, "nobody");
  mkdirSync(emptyHome);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (overrides: Record<string, string> = {}) =>
  loadConfig({
    env: {},
    overrides: { "resourcemanager.provider": "kubernetes", "resourcemanager.kubernetes.in-cluster.service-account-dir": sa, ...overrides },
  });
const inPod = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

describe("the kubernetes provider's credentials", () => {
  it("come from the configured kubeconfig, else $KUBECONFIG, else in a pod its service account, else ~/.kube/config", () => {
    expect(loadConfig({ env: {} })["resourcemanager.kubernetes.in-cluster.service-account-dir"]).toBe(SERVICE_ACCOUNT_DIR);
    expect(findCredentials(config({ "resourcemanager.kubernetes.kubeconfig": "/k" }), { ...inPod, KUBECONFIG: "/e" }, home)).toEqual({
      kind: "kubeconfig",
      file: "/k",
      from: "resourcemanager.kubernetes.kubeconfig",
    });
    expect(findCredentials(config(), { ...inPod, KUBECONFIG: "/e" }, home)).toMatchObject({ kind: "kubeconfig", from: "$KUBECONFIG" });
    // In a pod the service account wins over a kubeconfig that happens to be in the home directory.
    expect(findCredentials(config(), inPod, home)).toEqual({ kind: "in-cluster", dir: sa, server: "https://10.96.0.1:443" });
    expect(findCredentials(config(), { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }, home)).toMatchObject({
      server: "https://[fd00::1]:6443",
    });
    expect(findCredentials(config(), { KUBECONFIG: "" }, home)).toEqual({ kind: "kubeconfig", file: join(home, ".kube", "config"), from: "~/.kube/config" });
  });

  it("are refused with what to do: in a pod without a mounted token, or nowhere to look", () => {
    expect(() => findCredentials(config({ "resourcemanager.kubernetes.in-cluster.service-account-dir": join(dir, "none") }), inPod, home)).toThrow(
      /KUBERNETES_SERVICE_HOST is set \(the JobManager runs in a pod\), but its service account's token is not at .*none\/token: mount the service account token \(automountServiceAccountToken/,
    );
    expect(() => findCredentials(config(), {}, emptyHome)).toThrow(
      expect.objectContaining({
        code: "CONFIG_INVALID",
        message: expect.stringMatching(/no Kubernetes credentials: set resourcemanager.kubernetes.kubeconfig/),
      }),
    );
  });

  it("in a pod: the API server from the environment, the token as a file read again, the CA certificate, the namespace from the service account", () => {
    const creds = findCredentials(config(), inPod, emptyHome);
    const kc = loadKubeConfig(KubeConfig, creds);
    expect(kc.getCurrentCluster()).toMatchObject({ server: "https://10.96.0.1:443", caFile: join(sa, "ca.crt"), skipTLSVerify: false });
    expect(kc.getCurrentUser()?.authProvider).toEqual({ name: "tokenFile", config: { tokenFile: join(sa, "token") } });
    // Trimmed: a namespace file written with a newline still names a valid namespace.
    expect(podNamespace(config(), kc)).toBe("riffle");
    expect(podNamespace(config({ "resourcemanager.kubernetes.namespace": "other" }), kc)).toBe("other");
    expect(unauthorizedHint(creds)).toMatch(
      /the API server refused the token in .*serviceaccount\/token: check that the JobManager's pod runs with its service account/,
    );

    // A kubeconfig: its context's namespace; none there: default.
    const fromHome = loadKubeConfig(KubeConfig, findCredentials(config(), {}, home));
    expect(podNamespace(config(), fromHome)).toBe("from-context");
    writeFileSync(join(sa, "namespace"), "");
    expect(podNamespace(config(), loadKubeConfig(KubeConfig, creds))).toBe("default");
    writeFileSync(join(sa, "namespace"), "riffle\n");
  });
});
