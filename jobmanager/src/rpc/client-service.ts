import type * as grpc from "@grpc/grpc-js";
import { RiffleError, encodeBatch, rpc, toRiffleError, type JobIdRequest, type Logger, type ResultBatch, type SubmitJobRequest } from "@riffle/shared";
import type { Dispatcher } from "../dispatcher/index.js";
import { jobSummaryOf } from "./job-summary.js";

/** Records per streamed ResultBatch: keeps one message well below gRPC's size limits. */
const RECORDS_PER_BATCH = 10_000;
/** Longest wait for new records before the loop looks again at the call's state. */
const WAIT_MS = 10_000;

/**
 * ClientService: what users (the CLI, programs) call; the same operations as the REST API.
 * `current()` is the dispatcher of the leader part of the moment; it throws NOT_LEADER on a standby.
 */
export function clientService(current: () => Dispatcher, logger: Logger): grpc.UntypedServiceImplementation {
  return {
    SubmitJob: rpc.handleUnary(async (req: SubmitJobRequest) => {
      if (req.parallelism < 0) throw new RiffleError("BAD_REQUEST", `parallelism must be positive (0 for the default), got ${req.parallelism}`);
      const jobId = await current().submit({
        bundle: req.bundle,
        name: req.name || undefined,
        parallelism: req.parallelism > 0 ? req.parallelism : undefined,
        args: req.args,
        savepointPath: req.savepointPath || undefined,
        allowNonRestoredState: req.allowNonRestoredState ?? false,
      });
      return { jobId };
    }),
    ListJobs: rpc.handleUnary(() => ({ jobs: current().list().map(jobSummaryOf) })),
    GetJob: rpc.handleUnary((req: JobIdRequest) => jobSummaryOf(current().job(req.jobId))),
    CancelJob: rpc.handleUnary((req: JobIdRequest) => jobSummaryOf(current().cancel(req.jobId))),
    StreamResults: (call: grpc.ServerWritableStream<JobIdRequest, ResultBatch>) => {
      streamResults(current(), call).catch((err: unknown) => {
        const e = toRiffleError(err);
        if (e.code === "INTERNAL") logger.error({ jobId: call.request.jobId, err: e.message }, "streaming results failed");
        if (!call.writableEnded && !call.destroyed) call.emit("error", rpc.toServiceError(e));
      });
    },
  };
}

/** Streams a job's collected records until the job has ended and every record was sent. */
async function streamResults(dispatcher: Dispatcher, call: grpc.ServerWritableStream<JobIdRequest, ResultBatch>): Promise<void> {
  const results = dispatcher.job(call.request.jobId).results;
  let open = true;
  const gone = new Promise<void>((resolve) => {
    call.once("close", () => {
      open = false;
      resolve();
    });
  });
  let cursor = 0;
  while (open && !results.isClosed) {
    const read = results.read(cursor, RECORDS_PER_BATCH);
    if (read.records.length > 0) {
      cursor = read.nextCursor;
      if (!call.write({ records: encodeBatch(read.records) })) {
        await Promise.race([new Promise((resolve) => call.once("drain", resolve)), gone]);
      }
      continue;
    }
    if (read.drained) break;
    await Promise.race([results.waitForRecords(cursor, WAIT_MS), gone]);
  }
  if (open) call.end();
}
