import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { checkpointConfig, checkpointStatistics } from "./checkpoint-views.js";
import type { RestContext } from "./context.js";
import { cancelQuery, jobIdParams, parse, rescaleQuery, resultsQuery, savepointBody, stopBody, submitJobBody, triggerParams, vertexParams } from "./schemas.js";
import { jobDetails, jobExceptions, jobOverview, jobPlan, operationView, vertexWatermarks } from "./views.js";

/** Records per results response, so one long-poll answer stays a modest JSON document. */
const RESULTS_PER_RESPONSE = 10_000;
/** How long GET /jobs/:id/results waits for new records before answering with none. */
const LONG_POLL_MS = 10_000;

export function registerJobRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { dispatcher } = ctx;

  app.get("/jobs", async () => ({ jobs: dispatcher.list().map((job) => jobOverview(job, Date.now())) }));

  app.post("/jobs", async (req, reply) => {
    const body = parse(submitJobBody, req.body, "request body");
    const jobId = await dispatcher.submit({
      bundle: Buffer.from(body.bundle, "base64"),
      name: body.name,
      parallelism: body.parallelism,
      args: body.args,
      savepointPath: body.savepointPath,
      allowNonRestoredState: body.allowNonRestoredState,
    });
    return reply.status(202).send({ jobId });
  });

  app.get("/jobs/:id", async (req) => {
    const { id } = parse(jobIdParams, req.params, "path");
    return jobDetails(dispatcher.job(id), Date.now());
  });

  app.patch("/jobs/:id", async (req, reply) => {
    const { id } = parse(jobIdParams, req.params, "path");
    parse(cancelQuery, req.query, "query");
    dispatcher.cancel(id);
    return reply.status(202).send({});
  });

  app.get("/jobs/:id/plan", async (req) => {
    const { id } = parse(jobIdParams, req.params, "path");
    return jobPlan(dispatcher.job(id));
  });

  app.get("/jobs/:id/exceptions", async (req) => {
    const { id } = parse(jobIdParams, req.params, "path");
    return jobExceptions(dispatcher.job(id));
  });

  app.get("/jobs/:id/vertices/:vid/watermarks", async (req) => {
    const { id, vid } = parse(vertexParams, req.params, "path");
    return vertexWatermarks(dispatcher.job(id), vid);
  });

  // Savepoints, stop-with-savepoint and rescaling: asynchronous operations polled by trigger id, as in Flink.
  app.post("/jobs/:id/savepoints", async (req, reply) => {
    const { id } = parse(jobIdParams, req.params, "path");
    const body = parse(savepointBody, req.body ?? {}, "request body");
    const triggerId = dispatcher.triggerSavepoint(id, { targetDirectory: body["target-directory"], cancelJob: body["cancel-job"] });
    return reply.status(202).send({ "request-id": triggerId });
  });

  app.get("/jobs/:id/savepoints/:triggerId", async (req) => {
    const { id, triggerId } = parse(triggerParams, req.params, "path");
    return operationView(dispatcher.operation(id, "savepoint", triggerId));
  });

  app.post("/jobs/:id/stop", async (req, reply) => {
    const { id } = parse(jobIdParams, req.params, "path");
    const body = parse(stopBody, req.body ?? {}, "request body");
    const triggerId = dispatcher.stopWithSavepoint(id, { targetDirectory: body.targetDirectory, drain: body.drain });
    return reply.status(202).send({ "request-id": triggerId });
  });

  const rescale = async (req: FastifyRequest, reply: FastifyReply) => {
    const { id } = parse(jobIdParams, req.params, "path");
    const { parallelism } = parse(rescaleQuery, req.query, "query");
    return reply.status(202).send({ "request-id": dispatcher.rescale(id, parallelism) });
  };
  app.post("/jobs/:id/rescaling", rescale);
  app.patch("/jobs/:id/rescaling", rescale);

  app.get("/jobs/:id/rescaling/:triggerId", async (req) => {
    const { id, triggerId } = parse(triggerParams, req.params, "path");
    return operationView(dispatcher.operation(id, "rescale", triggerId));
  });

  app.get("/jobs/:id/checkpoints", async (req) => {
    const { id } = parse(jobIdParams, req.params, "path");
    return checkpointStatistics(dispatcher.job(id));
  });

  app.get("/jobs/:id/checkpoints/config", async (req) => {
    const { id } = parse(jobIdParams, req.params, "path");
    return checkpointConfig(dispatcher.job(id));
  });

  /**
   * Long-poll for collected records: answers at once when records beyond `cursor` exist or the job
   * has ended, else when some arrive or after LONG_POLL_MS with none. Reading at `cursor`
   * acknowledges the records before it, which frees room for the job's collect sinks.
   */
  app.get("/jobs/:id/results", async (req) => {
    const { id } = parse(jobIdParams, req.params, "path");
    const { cursor } = parse(resultsQuery, req.query, "query");
    const job = dispatcher.job(id);
    let read = job.results.read(cursor, RESULTS_PER_RESPONSE);
    if (read.records.length === 0 && !read.drained) {
      await job.results.waitForRecords(read.nextCursor, LONG_POLL_MS);
      read = job.results.read(read.nextCursor, RESULTS_PER_RESPONSE);
    }
    return { records: read.records, nextCursor: read.nextCursor, finished: read.drained, status: job.status };
  });
}
