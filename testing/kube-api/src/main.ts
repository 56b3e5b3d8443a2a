#!/usr/bin/env node
/**
 * `riffle-kube-api [--port N] [--data-dir DIR] [--kubeconfig FILE] [--namespace NS]... [--pod-credentials DIR]`:
 * runs the Kubernetes-API test server until SIGINT/SIGTERM (then kills its pods), and writes a
 * kubeconfig for it, so that `kubectl --kubeconfig FILE get pods` works against it. `--pod-credentials`
 * also writes what a pod's service account mount holds (token, ca.crt, namespace: the first
 * --namespace) to DIR, for a JobManager run as if in a pod (KUBERNETES_SERVICE_HOST=127.0.0.1,
 * KUBERNETES_SERVICE_PORT=<port>, resourcemanager.kubernetes.in-cluster.service-account-dir=DIR).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubeApiServer } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "data-dir": { type: "string" },
    kubeconfig: { type: "string" },
    namespace: { type: "string", multiple: true },
    "service-account": { type: "string", multiple: true },
    "pod-credentials": { type: "string" },
  },
});
const dataDir = values["data-dir"] ?? mkdtempSync(join(tmpdir(), "riffle-kube-api-"));
const server = await KubeApiServer.start({
  dataDir,
  port: Number(values.port),
  // A token of its own: a client with no credentials at all (kubectl) would ask for a user name.
  token: randomUUID(),
  ...(values.namespace ? { namespaces: values.namespace } : {}),
  ...(values["service-account"] ? { serviceAccounts: ["default", ...values["service-account"]] } : {}),
});
const kubeconfig = server.writeKubeconfig(values.kubeconfig ?? join(dataDir, "kubeconfig"));
const podCredentials = values["pod-credentials"] ? server.writeServiceAccount(values["pod-credentials"], values.namespace?.[0]) : undefined;
console.log(JSON.stringify({ msg: "Kubernetes API test server started", url: server.url, port: server.port, kubeconfig, podCredentials, dataDir }));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.close(true).then(() => process.exit(0));
  });
}
