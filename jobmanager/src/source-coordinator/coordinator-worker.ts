/**
 * A job's coordinator worker: loads the job bundle, runs it in run mode for its function table, and
 * runs the split enumerators of the job's sources (enumerator-runtime.ts). User code, isolated in a
 * worker thread so that an enumerator that loops, leaks or crashes cannot take the JobManager down.
 */
import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";
import { RiffleError, describeError } from "@riffle/shared";
import { instantiateJob } from "@riffle/sdk/internal";
import { EnumeratorRuntime } from "./enumerator-runtime.js";
import type { FromCoordinatorWorker, StartRequest, ToCoordinatorWorker } from "./protocol.js";

const port = parentPort!;
const modules = new Map<string, Promise<unknown>>();

async function load(request: StartRequest): Promise<readonly unknown[]> {
  let module = modules.get(request.bundlePath);
  if (!module) {
    module = import(pathToFileURL(request.bundlePath).href).catch((err: unknown) => {
      modules.delete(request.bundlePath);
      throw new RiffleError("BUNDLE_INVALID", `the job bundle could not be loaded: ${describeError(err)}`, { cause: err });
    });
    modules.set(request.bundlePath, module);
  }
  return instantiateJob(await module, request.args, request.functionCount);
}

const runtime = new EnumeratorRuntime((msg: FromCoordinatorWorker) => port.postMessage(msg), load);
port.on("message", (msg: ToCoordinatorWorker) => {
  runtime.handle(msg);
  if (msg.type === "close") void runtime.idle().then(() => port.close());
});
