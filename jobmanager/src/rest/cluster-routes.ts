import { CONFIG_OPTIONS, RiffleError, type ConfigKey } from "@riffle/shared";
import { type ClusterOverview, type MetricCollection, routes } from "@riffle/shared/rest-api";
import type { TaskManagerMetricsScraper } from "../metrics/index.js";
import type { RestAuth } from "./auth.js";
import type { RestApp, RestContext } from "./context.js";
import { routeOptions } from "./route-options.js";
import { taskManagerInfo } from "./views.js";

/** Configuration values shown as this instead: credentials must not leak through GET /jobmanager/config. */
const HIDDEN = "******";
const SECRET_KEY = /token|credentials|password|secret/;

export function registerClusterRoutes(app: RestApp, ctx: RestContext, auth: RestAuth, scraper: TaskManagerMetricsScraper): void {
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
        "refresh-interval": ctx.config["web.refresh-interval"],
        "timezone-name": Intl.DateTimeFormat().resolvedOptions().timeZone,
        "timezone-offset": -new Date().getTimezoneOffset() * 60_000,
        "riffle-version": ctx.version,
        features: {
          "web-submit": ctx.config["web.submit.enable"],
          "web-cancel": ctx.config["web.cancel.enable"],
          "web-rescale": ctx.config["web.cancel.enable"],
          "web-history": false,
        },
        auth: { enabled: auth.enabled, role: auth.enabled ? role : "operator", anonymous: auth.enabled ? auth.anonymous : "operator" },
      };
    },
  });

  app.route({
    ...routeOptions(routes.overview),
    handler: async (req) => {
      // A standby answers with the leader's overview: the cluster's, whichever JobManager is asked.
      if (!ctx.leadership.serving()) return leaderOverview(ctx, req.headers.authorization);
      const counts = ctx.dispatcher.countByStatus();
      const slots = ctx.registry.slotCounts();
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
      const now = ctx.clock.now();
      return { taskmanagers: ctx.registry.list().map((tm) => taskManagerInfo(tm, now)) };
    },
  });

  app.route({
    ...routeOptions(routes.taskmanagerDetails),
    handler: async (req) => {
      const tm = ctx.registry.get(req.params.id);
      if (!tm) throw new RiffleError("TASKMANAGER_NOT_FOUND", `no TaskManager with id ${req.params.id} is registered`);
      const measured = await scraper.metricsOf(tm.metricsAddress).then(
        (metrics) => ({ metrics }),
        (err: unknown) => ({ metrics: null, metricsError: (err as Error).message }),
      );
      return {
        ...taskManagerInfo(tm, ctx.clock.now()),
        allocatedSlots: tm.slotOwners.flatMap((jobId, index) => (jobId === undefined ? [] : [{ index, jobId }])),
        ...measured,
        tasks: ctx.dispatcher.tasksOn(tm.id),
      };
    },
  });

  app.route({
    ...routeOptions(routes.jobmanagerConfig),
    handler: async () =>
      (Object.keys(CONFIG_OPTIONS) as ConfigKey[]).map((key) => ({
        key,
        value: SECRET_KEY.test(key) && ctx.config[key] !== "" ? HIDDEN : String(ctx.config[key]),
      })),
  });

  app.route({
    ...routeOptions(routes.jobmanagerMetrics),
    handler: async (req) => {
      const slots = ctx.registry.slotCounts();
      const counts = ctx.dispatcher.countByStatus();
      const memory = process.memoryUsage();
      const all: MetricCollection = [
        { id: "numRegisteredTaskManagers", value: String(slots.taskmanagers) },
        { id: "taskSlotsTotal", value: String(slots.slotsTotal) },
        { id: "taskSlotsAvailable", value: String(slots.slotsAvailable) },
        { id: "numRunningJobs", value: String(counts.RUNNING) },
        { id: "uptime", value: String(ctx.clock.now() - ctx.startTime) },
        { id: "Status.Node.Memory.Heap.Used", value: String(memory.heapUsed) },
        { id: "Status.Node.Memory.Heap.Committed", value: String(memory.heapTotal) },
        { id: "Status.Process.Memory.RSS", value: String(memory.rss) },
      ];
      return selectMetrics(all, req.query.get);
    },
  });

  app.route({ ...routeOptions(routes.jobmanagerHa), handler: async () => ctx.leadership.info() });

  // Served by standbys too: their own health (is_leader 0, lease keep-alives) is what is scraped there.
  app.get("/metrics", { config: { access: "read-only", standby: true } }, async (_req, reply) => {
    const text = await ctx.metrics.metrics();
    return reply.type(ctx.metrics.contentType).send(text);
  });
}

/** How long a standby waits for the leader's /overview. */
const LEADER_OVERVIEW_TIMEOUT_MS = 2_000;

/** The leader's GET /overview, asked by a standby with the caller's credentials; NOT_LEADER when there is none or it does not answer. */
async function leaderOverview(ctx: RestContext, authorization: string | undefined): Promise<ClusterOverview> {
  const leader = ctx.leadership.otherLeader();
  if (!leader) throw new RiffleError("NOT_LEADER", ctx.leadership.whyNotLeader());
  let res: Response;
  try {
    res = await fetch(`${leader.restAddress}${routes.overview.url}`, {
      headers: { accept: "application/json", ...(authorization ? { authorization } : {}) },
      signal: AbortSignal.timeout(LEADER_OVERVIEW_TIMEOUT_MS),
    });
  } catch (err) {
    throw new RiffleError(
      "NOT_LEADER",
      `this JobManager is a standby, and the leader ${leader.leaderId} at ${leader.restAddress} did not answer: ${(err as Error).message}`,
    );
  }
  const body = (await res.json().catch(() => undefined)) as (ClusterOverview & { code?: string; message?: string }) | undefined;
  if (!res.ok || !body)
    throw new RiffleError("NOT_LEADER", `the leader at ${leader.restAddress} answered ${res.status}${body?.message ? `: ${body.message}` : ""}`);
  return body;
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
