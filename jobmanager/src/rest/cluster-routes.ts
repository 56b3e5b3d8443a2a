import { CONFIG_OPTIONS, RiffleError, type ConfigKey } from "@riffle/shared";
import { type MetricCollection, routes } from "@riffle/shared/rest-api";
import type { TaskManagerMetricsScraper } from "../metrics/index.js";
import type { RestAuth } from "./auth.js";
import type { RestApp, RestContext } from "./context.js";
import { routeOptions } from "./route-options.js";
import { taskManagerInfo } from "./views.js";

/** Configuration values shown as this instead: credentials must not leak through GET /jobmanager/config. */
const HIDDEN = "******";
const SECRET_KEY = /token|credentials|password|secret/;

export function registerClusterRoutes(app: RestApp, ctx: RestContext, auth: RestAuth, scraper: TaskManagerMetricsScraper): void {
  const { dispatcher, registry, config } = ctx;

  app.route({
    ...routeOptions(routes.config),
    handler: async (req) => {
      // A wrong token is no reason to refuse /config: the dashboard reads it to ask for better credentials.
      let role: "operator" | "read-only" | null = null;
      try {
        role = auth.roleOf(req.headers.authorization);
      } catch {
        role = null;
      }
      return {
        "refresh-interval": config["web.refresh-interval"],
        "timezone-name": Intl.DateTimeFormat().resolvedOptions().timeZone,
        "timezone-offset": -new Date().getTimezoneOffset() * 60_000,
        "riffle-version": ctx.version,
        features: {
          "web-submit": config["web.submit.enable"],
          "web-cancel": config["web.cancel.enable"],
          "web-rescale": config["web.cancel.enable"],
          "web-history": false,
        },
        auth: { enabled: auth.enabled, role: auth.enabled ? role : "operator", anonymous: auth.enabled ? auth.anonymous : "operator" },
      };
    },
  });

  app.route({
    ...routeOptions(routes.overview),
    handler: async () => {
      const counts = dispatcher.countByStatus();
      const slots = registry.slotCounts();
      return {
        taskmanagers: slots.taskmanagers,
        "slots-total": slots.slotsTotal,
        "slots-available": slots.slotsAvailable,
        "jobs-running": counts.CREATED + counts.RUNNING + counts.RESTARTING + counts.STOPPING + counts.RESCALING + counts.FAILING + counts.CANCELLING,
        "jobs-finished": counts.FINISHED,
        "jobs-cancelled": counts.CANCELED,
        "jobs-failed": counts.FAILED,
        "riffle-version": ctx.version,
        "start-time": ctx.startTime,
      };
    },
  });

  app.route({
    ...routeOptions(routes.taskmanagers),
    handler: async () => {
      const now = Date.now();
      return { taskmanagers: registry.list().map((tm) => taskManagerInfo(tm, now)) };
    },
  });

  app.route({
    ...routeOptions(routes.taskmanagerDetails),
    handler: async (req) => {
      const tm = registry.get(req.params.id);
      if (!tm) throw new RiffleError("TASKMANAGER_NOT_FOUND", `no TaskManager with id ${req.params.id} is registered`);
      const measured = await scraper.metricsOf(tm.metricsAddress).then(
        (metrics) => ({ metrics }),
        (err: unknown) => ({ metrics: null, metricsError: (err as Error).message }),
      );
      return {
        ...taskManagerInfo(tm, Date.now()),
        allocatedSlots: tm.slotOwners.flatMap((jobId, index) => (jobId === undefined ? [] : [{ index, jobId }])),
        ...measured,
        tasks: dispatcher.tasksOn(tm.id),
      };
    },
  });

  app.route({
    ...routeOptions(routes.jobmanagerConfig),
    handler: async () =>
      (Object.keys(CONFIG_OPTIONS) as ConfigKey[]).map((key) => ({ key, value: SECRET_KEY.test(key) && config[key] !== "" ? HIDDEN : String(config[key]) })),
  });

  app.route({
    ...routeOptions(routes.jobmanagerMetrics),
    handler: async (req) => {
      const slots = registry.slotCounts();
      const counts = dispatcher.countByStatus();
      const memory = process.memoryUsage();
      const all: MetricCollection = [
        { id: "numRegisteredTaskManagers", value: String(slots.taskmanagers) },
        { id: "taskSlotsTotal", value: String(slots.slotsTotal) },
        { id: "taskSlotsAvailable", value: String(slots.slotsAvailable) },
        { id: "numRunningJobs", value: String(counts.RUNNING) },
        { id: "uptime", value: String(Date.now() - ctx.startTime) },
        { id: "Status.Node.Memory.Heap.Used", value: String(memory.heapUsed) },
        { id: "Status.Node.Memory.Heap.Committed", value: String(memory.heapTotal) },
        { id: "Status.Process.Memory.RSS", value: String(memory.rss) },
      ];
      return selectMetrics(all, req.query.get);
    },
  });

  app.get("/metrics", { config: { access: "read-only" } }, async (_req, reply) => {
    const text = await ctx.metrics.metrics();
    return reply.type(ctx.metrics.contentType).send(text);
  });
}

/** Flink's `?get=` semantics: the named metrics that exist with their values; without `get`, every name. */
export function selectMetrics(all: MetricCollection, get: string[] | undefined): MetricCollection {
  if (!get) return all.map((m) => ({ id: m.id }));
  const byId = new Map(all.map((m) => [m.id, m]));
  return get.flatMap((id) => {
    const m = byId.get(id);
    return m ? [m] : [];
  });
}
