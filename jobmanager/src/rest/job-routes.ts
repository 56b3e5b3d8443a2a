import { routes } from "@riffle/shared/rest-api";
import { bundleJobModule } from "../plan/index.js";
import { checkpointConfig, checkpointDetails, checkpointStatistics } from "./checkpoint-views.js";
import type { RestApp, RestContext } from "./context.js";
import { routeOptions } from "./route-options.js";
import { jobDetails, jobExceptions, jobOverview, jobPlan, operationResult, vertexDetails, vertexWatermarks } from "./views.js";

/** Records per results response, so one long-poll answer stays a modest JSON document. */
const RESULTS_PER_RESPONSE = 10_000;
/** How long GET /jobs/:id/results waits for new records before answering with none. */
const LONG_POLL_MS = 10_000;

export function registerJobRoutes(app: RestApp, ctx: RestContext): void {
  // Read per request: the leader part of the moment (a standby never gets here, see server.ts).

  app.route({ ...routeOptions(routes.jobs), handler: async () => ({ jobs: ctx.dispatcher.list().map((job) => ({ id: job.id, status: job.status })) }) });

  app.route({
    ...routeOptions(routes.jobsOverview),
    handler: async () => {
      const now = ctx.clock.now();
      return { jobs: ctx.dispatcher.list().map((job) => jobOverview(job, now, ctx.metricsHistory)) };
    },
  });

  app.route({
    ...routeOptions(routes.submitJob),
    handler: async (req, reply) => {
      const body = req.body;
      const bundle =
        body.bundle !== undefined ? Buffer.from(body.bundle, "base64") : await bundleJobModule({ name: body.jobFile!.name, contents: body.jobFile!.content });
      const jobId = await ctx.dispatcher.submit({
        bundle,
        name: body.name ?? (body.jobFile ? body.jobFile.name.replace(/\.[^.]+$/, "") : undefined),
        parallelism: body.parallelism,
        args: body.args,
        savepointPath: body.savepointPath,
        allowNonRestoredState: body.allowNonRestoredState,
      });
      return reply.status(202).send({ jobid: jobId, jobUrl: `/jobs/${jobId}` });
    },
  });

  app.route({ ...routeOptions(routes.jobDetails), handler: async (req) => jobDetails(ctx.dispatcher.job(req.params.id), ctx.clock.now(), ctx.metricsHistory) });

  app.route({
    ...routeOptions(routes.cancelJob),
    handler: async (req, reply) => {
      ctx.dispatcher.cancel(req.params.id);
      return reply.status(202).send({});
    },
  });

  app.route({ ...routeOptions(routes.jobPlan), handler: async (req) => jobPlan(ctx.dispatcher.job(req.params.id)) });

  app.route({
    ...routeOptions(routes.jobExceptions),
    handler: async (req) => jobExceptions(ctx.dispatcher.job(req.params.id), (tm) => ctx.registry.get(tm)?.address),
  });

  app.route({
    ...routeOptions(routes.vertexDetails),
    handler: async (req) => vertexDetails(ctx.dispatcher.job(req.params.id), req.params.vid, ctx.clock.now(), ctx.metricsHistory),
  });

  app.route({ ...routeOptions(routes.vertexWatermarks), handler: async (req) => vertexWatermarks(ctx.dispatcher.job(req.params.id), req.params.vid) });

  // Savepoints, stop-with-savepoint and rescaling: asynchronous operations polled by trigger id, as in Flink.
  app.route({
    ...routeOptions(routes.savepoint),
    handler: async (req, reply) => {
      const body = req.body ?? {};
      const triggerId = ctx.dispatcher.triggerSavepoint(req.params.id, { targetDirectory: body["target-directory"], cancelJob: body["cancel-job"] });
      return reply.status(202).send({ "request-id": triggerId });
    },
  });

  app.route({
    ...routeOptions(routes.savepointStatus),
    handler: async (req) => operationResult(ctx.dispatcher.operation(req.params.id, "savepoint", req.params.triggerId)),
  });

  app.route({
    ...routeOptions(routes.stop),
    handler: async (req, reply) => {
      const body = req.body ?? {};
      const triggerId = ctx.dispatcher.stopWithSavepoint(req.params.id, { targetDirectory: body.targetDirectory, drain: body.drain });
      return reply.status(202).send({ "request-id": triggerId });
    },
  });

  for (const spec of [routes.rescale, routes.rescalePost]) {
    app.route({
      ...routeOptions(spec),
      handler: async (req, reply) => reply.status(202).send({ "request-id": ctx.dispatcher.rescale(req.params.id, req.query.parallelism) }),
    });
  }

  app.route({
    ...routeOptions(routes.rescaleStatus),
    handler: async (req) => operationResult(ctx.dispatcher.operation(req.params.id, "rescale", req.params.triggerId)),
  });

  app.route({ ...routeOptions(routes.checkpoints), handler: async (req) => checkpointStatistics(ctx.dispatcher.job(req.params.id)) });
  app.route({ ...routeOptions(routes.checkpointConfig), handler: async (req) => checkpointConfig(ctx.dispatcher.job(req.params.id)) });
  app.route({ ...routeOptions(routes.checkpointDetails), handler: async (req) => checkpointDetails(ctx.dispatcher.job(req.params.id), req.params.cid) });

  /**
   * Long-poll for collected records: answers at once when records beyond `cursor` exist or the job
   * has ended, else when some arrive or after LONG_POLL_MS with none. Reading at `cursor`
   * acknowledges the records before it, which frees room for the job's collect sinks.
   */
  app.route({
    ...routeOptions(routes.results),
    handler: async (req) => {
      const job = ctx.dispatcher.job(req.params.id);
      let read = job.results.read(req.query.cursor, RESULTS_PER_RESPONSE);
      if (read.records.length === 0 && !read.drained) {
        await job.results.waitForRecords(read.nextCursor, LONG_POLL_MS);
        read = job.results.read(read.nextCursor, RESULTS_PER_RESPONSE);
      }
      return { records: read.records, nextCursor: read.nextCursor, finished: read.drained, state: job.status };
    },
  });
}
