import { resolve } from "node:path";
import { RiffleError, toRiffleError, type RiffleConfig } from "@riffle/shared";
import { bundleJob, jobNameOf } from "../bundle.js";
import { LocalCluster } from "../cluster/index.js";
import { InterruptedError, reportError } from "../errors.js";
import { Interrupts } from "../interrupts.js";
import { resolveConfig, type GlobalOptions } from "../options.js";
import { formatRecord, write } from "../output.js";
import { RestClient, restAuthOf, type JobStatus, type SubmitJobRequest } from "../rest-client.js";

export interface RunCommandOptions {
  /** REST base URL of a running cluster; absent: run on an embedded cluster. */
  jobmanager?: string;
  parallelism?: number;
  detached?: boolean;
  name?: string;
  /** TaskManagers of the embedded cluster. */
  taskmanagers?: number;
  /** A savepoint directory to start from; made absolute here, so it names the same directory on the JobManager. */
  fromSavepoint?: string;
  /** Drop savepoint state of operators (by uid) the job no longer has, instead of refusing the job. */
  allowNonRestoredState?: boolean;
}

/**
 * `riffle run [options] <job> [args...]`: bundles the job, submits it (to `--jobmanager` or to an
 * embedded cluster started for this run) and, unless detached, prints its collected records until it
 * ends. Exit code 0 when the job FINISHED, 1 when it FAILED or was CANCELED.
 *
 * Ctrl-C stops the embedded cluster, or cancels the job on a remote cluster, before exiting.
 * `--from-savepoint <path>` starts the job from a savepoint, matching its state to operators by uid.
 */
export async function runCommand(globals: GlobalOptions, jobFile: string, jobArgs: string[], options: RunCommandOptions): Promise<number> {
  const config = resolveConfig(globals);
  const bundle = await bundleJob(jobFile);
  const interrupts = new Interrupts();
  const stopFollowing = new AbortController();
  const signal = AbortSignal.any([interrupts.signal, stopFollowing.signal]);
  let cluster: LocalCluster | undefined;
  let client: RestClient | undefined;
  let jobId: string | undefined;
  let jobEnded = false;
  let succeeded = false;
  let logsReported = false;
  try {
    if (options.jobmanager !== undefined) {
      client = new RestClient(options.jobmanager, restAuthOf(config));
    } else {
      const taskmanagers = options.taskmanagers ?? embeddedClusterSize(config, options.parallelism);
      await write(process.stderr, `Starting a local cluster with ${taskmanagers} TaskManager${taskmanagers === 1 ? "" : "s"}...\n`);
      cluster = await LocalCluster.start({
        taskmanagers,
        ...(globals.config !== undefined ? { configFile: globals.config } : {}),
        settings: globals.set,
        signal: interrupts.signal,
      });
      client = new RestClient(cluster.restUrl, restAuthOf(config));
    }

    const request: SubmitJobRequest = {
      bundle: Buffer.from(bundle).toString("base64"),
      name: options.name ?? jobNameOf(jobFile),
      args: jobArgs,
      ...(options.parallelism !== undefined ? { parallelism: options.parallelism } : {}),
      ...(options.fromSavepoint !== undefined ? { savepointPath: resolve(options.fromSavepoint) } : {}),
      ...(options.allowNonRestoredState ? { allowNonRestoredState: true } : {}),
    };
    jobId = (await client.submitJob(request, { signal })).jobid;
    await write(process.stderr, `Job ${jobId} submitted\n`);
    if (options.detached) {
      await write(process.stdout, `${jobId}\n`);
      succeeded = true;
      return 0;
    }

    const following = followResults(client, jobId, signal);
    await (cluster ? Promise.race([following, cluster.failure]) : following);
    jobEnded = true;
    const job = await client.job(jobId, { signal });
    await write(process.stderr, `Job ${jobId} ${job.state} in ${job.duration} ms\n`);
    if (job.state === "FINISHED") {
      succeeded = true;
      return 0;
    }
    if (job.failure) await write(process.stderr, `error[${job.failure.code}]: ${job.failure.message}\n`);
    return 1;
  } catch (err) {
    // A closed stdout or a signal also breaks pending writes and requests: report the interrupt.
    const cause = interrupts.signal.aborted ? (interrupts.signal.reason as InterruptedError) : err;
    if (cause instanceof InterruptedError) {
      if (!cluster && client && jobId !== undefined && !jobEnded) await cancelOnInterrupt(client, jobId);
      throw cause;
    }
    if (!cluster) throw cause;
    // The logs of the embedded cluster explain the failure: keep them and say where.
    logsReported = true;
    const e = toRiffleError(cause);
    throw new RiffleError(e.code, `${e.message}\nThe local cluster's logs are in ${cluster.logDir}`, { cause });
  } finally {
    stopFollowing.abort();
    if (cluster) {
      if (!succeeded && !interrupts.signal.aborted) {
        cluster.keepDir();
        if (!logsReported) await write(process.stderr, `The local cluster's logs are in ${cluster.logDir}\n`);
      }
      await cluster.stop();
    }
    interrupts.dispose();
  }
}

/**
 * Prints the job's collected records as they arrive (long-poll), one per line, until the job has
 * ended and every record was handed out. Returns the final status.
 */
async function followResults(client: RestClient, jobId: string, signal: AbortSignal): Promise<JobStatus> {
  let cursor = 0;
  for (;;) {
    const page = await client.results(jobId, cursor, { signal });
    const records = Array.isArray(page.records) ? page.records : [];
    if (records.length > 0) await write(process.stdout, records.map((r) => `${formatRecord(r)}\n`).join(""));
    cursor = typeof page.nextCursor === "number" ? page.nextCursor : cursor + records.length;
    if (page.finished) return page.state;
  }
}

async function cancelOnInterrupt(client: RestClient, jobId: string): Promise<void> {
  try {
    await client.cancelJob(jobId, { timeoutMs: 10_000 });
    await write(process.stderr, `Requested cancellation of job ${jobId}\n`);
  } catch (err) {
    const e = toRiffleError(err);
    reportError(new RiffleError(e.code, `could not cancel job ${jobId}: ${e.message}`, { cause: err }));
  }
}

/**
 * TaskManagers for an embedded run: `cluster.taskmanagers`, or more when `--parallelism` needs more
 * slots than they offer (a job with parallelism p needs p slots).
 */
export function embeddedClusterSize(config: RiffleConfig, parallelism: number | undefined): number {
  const configured = config["cluster.taskmanagers"];
  if (parallelism === undefined) return configured;
  return Math.max(configured, Math.ceil(parallelism / config["taskmanager.slots"]));
}
