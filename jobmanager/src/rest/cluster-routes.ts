import { CONFIG_OPTIONS, RiffleError, type ConfigKey } from "@riffle/shared";
import type { FastifyInstance } from "fastify";
import type { RestContext } from "./context.js";
import { parse, taskmanagerIdParams } from "./schemas.js";
import { taskManagerView } from "./views.js";

export function registerClusterRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { dispatcher, registry } = ctx;

  app.get("/overview", async () => {
    const counts = dispatcher.countByStatus();
    const slots = registry.slotCounts();
    return {
      taskmanagers: slots.taskmanagers,
      slotsTotal: slots.slotsTotal,
      slotsAvailable: slots.slotsAvailable,
      jobsRunning: counts.CREATED + counts.RUNNING + counts.RESTARTING + counts.STOPPING + counts.RESCALING + counts.FAILING + counts.CANCELLING,
      jobsFinished: counts.FINISHED,
      jobsCancelled: counts.CANCELED,
      jobsFailed: counts.FAILED,
    };
  });

  app.get("/taskmanagers", async () => {
    const now = Date.now();
    return { taskmanagers: registry.list().map((tm) => taskManagerView(tm, now)) };
  });

  app.get("/taskmanagers/:id", async (req) => {
    const { id } = parse(taskmanagerIdParams, req.params, "path");
    const tm = registry.get(id);
    if (!tm) throw new RiffleError("TASKMANAGER_NOT_FOUND", `no TaskManager with id ${id} is registered`);
    return { ...taskManagerView(tm, Date.now()), tasks: dispatcher.tasksOn(id) };
  });

  app.get("/jobmanager/config", async () => (Object.keys(CONFIG_OPTIONS) as ConfigKey[]).map((key) => ({ key, value: String(ctx.config[key]) })));

  app.get("/metrics", async (_req, reply) => {
    const text = await ctx.metrics.metrics();
    return reply.type(ctx.metrics.contentType).send(text);
  });
}
