/**
 * Plan mode, inside a worker thread: for each request, loads the job bundle, runs its default export
 * against a planning environment and posts the JobGraph (or the error) back. Isolated in a worker so
 * a job that loops, leaks or crashes while building its pipeline can be stopped without harming the
 * JobManager; reused for several plans (see `WorkerPlanner`) because loading the SDK and its
 * dependencies costs about half a second of CPU, far more than planning a job.
 */
import { parentPort } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { RiffleError, describeError, toRiffleError } from "@riffle/shared";
import type { StreamExecutionEnvironment } from "@riffle/sdk";
import { planJob } from "@riffle/sdk/internal";
import type { PlanReply, PlanRequest } from "./protocol.js";

async function plan(request: PlanRequest): Promise<PlanReply> {
  let ns: unknown;
  try {
    ns = await import(pathToFileURL(request.bundlePath).href);
  } catch (err) {
    if (err instanceof RiffleError) return { error: err.toJSON() };
    return { error: { code: "BUNDLE_INVALID", message: `the job bundle could not be loaded: ${describeError(err)}` } };
  }
  try {
    const job = request.parallelismOverride === undefined ? ns : withParallelism(ns, request.parallelismOverride);
    return { graph: await planJob(job, request.args, request.buildOptions) };
  } catch (err) {
    return { error: toRiffleError(err, "JOB_PLAN_FAILED").toJSON() };
  }
}

/**
 * The module with its job function followed by env.setParallelism(p): the environment's parallelism
 * is what every operator without its own takes, so p wins over the job's choice exactly there. A
 * module without a default export function is passed on as it is, for planJob to refuse.
 */
function withParallelism(ns: unknown, parallelism: number): unknown {
  const fn = (ns as { default?: unknown } | null)?.default;
  if (typeof fn !== "function") return ns;
  return {
    default: async (env: StreamExecutionEnvironment) => {
      await (fn as (env: StreamExecutionEnvironment) => unknown)(env);
      env.setParallelism(parallelism);
    },
  };
}

const port = parentPort;
if (!port) throw new Error("the plan worker runs only as a worker thread");
// While a plan runs, only the job's own work keeps this thread alive (the port is unreferenced): a
// module whose top-level await never settles leaves nothing to wait for, the event loop empties and
// this fires. The worker then exits with 13, as Node does for a main module in that state, and the
// planner reports it at once instead of after the plan timeout.
process.on("beforeExit", () => process.exit(13));
port.on("message", async (request: PlanRequest) => {
  port.unref();
  const reply = await plan(request);
  port.ref();
  port.postMessage(reply);
});
