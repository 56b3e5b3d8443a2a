/**
 * A Kubernetes-API test server for Riffle's tests (and `kubectl` demos): core/v1 pods and apps/v1
 * deployments, schema-validated, with a kubelet that runs each pod's command as a local process.
 * Not a Kubernetes: see `server.ts` for what it leaves out.
 *
 * ```ts
 * const api = await KubeApiServer.start({ dataDir });
 * api.writeKubeconfig(join(dataDir, "kubeconfig"));
 * // ... a client creates pods; the kubelet runs them
 * await api.close(); // kills the pods' processes
 * ```
 */
export { KubeApiServer, type KubeApiServerOptions, status, isTerminal } from "./server.js";
export { Kubelet, NODE_NAME } from "./kubelet.js";
export { ObjectStore, StoreError, type KubeObject, type StoredEvent, type WatchEventType } from "./store.js";
export { parseLabelSelector, type LabelSelector } from "./selector.js";
export { validateBody, parseQuantity, BodyRefused, type Cause } from "./validation.js";
