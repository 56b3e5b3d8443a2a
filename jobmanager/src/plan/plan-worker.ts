/**
 * Plan mode, inside a worker thread: loads the job bundle, runs its default export against a
 * planning environment and posts the JobGraph (or the error) back. Isolated in a worker so a job that
 * loops, leaks or crashes while building its pipeline can be stopped without harming the JobManager.
 */
import { parentPort, workerData } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { RiffleError, describeError, toRiffleError } from "@riffle/shared";
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
    return { graph: await planJob(ns, request.args, request.buildOptions) };
  } catch (err) {
    return { error: toRiffleError(err, "JOB_PLAN_FAILED").toJSON() };
  }
}

parentPort?.postMessage(await plan(workerData as PlanRequest));
