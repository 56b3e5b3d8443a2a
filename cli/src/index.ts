/**
 * @riffle/cli — the `riffle` command line. Its package exports what the end-to-end test harness
 * reuses: a local cluster of JobManager and TaskManager processes, and the REST client.
 *
 * ```ts
 * import { LocalCluster, RestClient } from "@riffle/cli";
 *
 * const cluster = await LocalCluster.start({ taskmanagers: 2 });
 * try {
 *   console.log(await new RestClient(cluster.restUrl).overview());
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export { LocalCluster, CLI_ENTRY, type LocalClusterOptions, type LocalClusterProcess } from "./cluster/index.js";
export {
  RestClient,
  restAuthOf,
  TERMINAL_STATUSES,
  type RestClientOptions,
  type RequestOptions,
  type JobStatus,
  type ClusterOverview,
  type JobOverview,
  type JobDetails,
  type JobVertexDetails,
  type SubmitJobRequest,
  type SubmitJobResponse,
  type ResultsPage,
  type OperationResult,
  type SavepointTrigger,
} from "./rest-client.js";
export { bundleJob, jobNameOf } from "./bundle.js";
