import type { AddressInfo } from "node:net";
import fastifySwagger from "@fastify/swagger";
import { RiffleError } from "@riffle/shared";
import { type FastifyRequest, fastify } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { RestAuth } from "./auth.js";
import { registerClusterRoutes } from "./cluster-routes.js";
import type { RestApp, RestContext } from "./context.js";
import { registerDashboard } from "./dashboard.js";
import { toHttpError } from "./http-errors.js";
import { registerJobRoutes } from "./job-routes.js";
import { registerMetricRoutes } from "./metric-routes.js";
import { TaskManagerMetricsScraper } from "../metrics/index.js";
import { registerAutoscalerRoutes } from "../autoscaler/index.js";

/**
 * The REST API: requests validated and answers serialized with the schemas of @riffle/shared/rest-api,
 * which `/openapi.json` publishes; every error `{code, message}`; access checked per route; the
 * dashboard's files at `/`.
 */
export async function createRestServer(ctx: RestContext): Promise<RestApp> {
  const auth = RestAuth.fromConfig(ctx.config);
  const app = fastify({ bodyLimit: ctx.config["rest.body-limit"], logger: false, forceCloseConnections: true }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) ctx.logger.error({ method: req.method, url: req.url, code: body.code, err: body.message }, "REST request failed");
    else ctx.logger.debug({ method: req.method, url: req.url, code: body.code, err: body.message }, "REST request refused");
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ code: "NOT_FOUND", message: `no such endpoint: ${req.method} ${req.url}` }));
  app.addHook("onRequest", async (req) => {
    // Routes without a declared access (none today) count as read-only: nothing is open by omission.
    auth.check(req.routeOptions.config?.access ?? "read-only", req.headers.authorization, `${req.method} ${req.routeOptions.url ?? req.url}`);
  });
  // Only the leader serves the cluster's state and actions. A standby passes the request on to the
  // leader and relays its answer (as Flink's REST endpoints reach the leader's dispatcher from any
  // JobManager), so a dashboard opened on a standby works without following a redirect to another
  // origin; with no leader it says why (503). Run after validation: a bad body is refused here as
  // the leader would refuse it. Unknown paths stay 404s.
  app.addHook("preHandler", async (req, reply) => {
    if (req.routeOptions.config?.standby || req.routeOptions.url === undefined || ctx.leadership.serving()) return;
    const leader = ctx.leadership.otherLeader();
    if (!leader) return reply.status(503).header("retry-after", "1").send({ code: "NOT_LEADER", message: ctx.leadership.whyNotLeader() });
    const answer = await forwardToLeader(leader.restAddress, req).catch((err: Error) => err);
    if (answer instanceof Error) {
      return reply
        .status(503)
        .header("retry-after", "1")
        .send({
          code: "NOT_LEADER",
          message: `this JobManager is a standby, and the leader ${leader.leaderId} at ${leader.restAddress} did not answer: ${answer.message}`,
        });
    }
    return reply.status(answer.status).header("content-type", answer.contentType).send(answer.body);
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Riffle JobManager REST API",
        version: ctx.version,
        description:
          "Routes tagged Flink-compatible take and answer Flink's shapes (field names and paths of Flink's REST API); routes tagged Riffle are Riffle's own. Errors are `{code, message}`.",
      },
      tags: [
        { name: "Flink-compatible", description: "Flink's route and shape; Riffle's additions are documented on their fields" },
        { name: "Riffle", description: "Riffle's own" },
      ],
      ...(auth.enabled
        ? {
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" }, basic: { type: "http", scheme: "basic" } } },
            security: [{ bearer: [] }, { basic: [] }],
          }
        : {}),
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  app.get("/openapi.json", { schema: { hide: true }, config: { access: "open", standby: true } }, async () => app.swagger());
  const scraper = new TaskManagerMetricsScraper({ cacheMs: Math.min(1_000, ctx.config["web.refresh-interval"]), timeoutMs: 2_000 });
  registerJobRoutes(app, ctx);
  registerClusterRoutes(app, ctx, auth, scraper);
  registerMetricRoutes(app, ctx, scraper);
  registerAutoscalerRoutes(app, ctx);
  await registerDashboard(app, ctx.logger);
  return app;
}

/** Listens on host:port (0 = a free port) and resolves with the bound port; PORT_IN_USE when taken. */
export async function listenRest(app: RestApp, host: string, port: number): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "EADDRINUSE") {
      throw new RiffleError(
        "PORT_IN_USE",
        `cannot listen on ${host}:${port}: the port is already in use. Stop the other process or choose another port (rest.port).`,
        { cause: err },
      );
    }
    throw new RiffleError("INTERNAL", `cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
  return (app.server.address() as AddressInfo).port;
}

/** How long a standby waits for the leader's answer to a request it passes on (a submission plans the job). */
const FORWARD_TIMEOUT_MS = 60_000;

/** Sends a request on to the leader with the caller's credentials and body; its status, type and bytes. */
async function forwardToLeader(leaderRestAddress: string, req: FastifyRequest): Promise<{ status: number; contentType: string; body: Buffer }> {
  const headers: Record<string, string> = { accept: req.headers.accept ?? "application/json" };
  if (req.headers.authorization) headers.authorization = req.headers.authorization;
  const hasBody = req.body !== undefined && req.method !== "GET" && req.method !== "HEAD";
  if (hasBody) headers["content-type"] = "application/json";
  const res = await fetch(`${leaderRestAddress}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? JSON.stringify(req.body) : undefined,
    redirect: "manual",
    signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
  });
  return { status: res.status, contentType: res.headers.get("content-type") ?? "application/json", body: Buffer.from(await res.arrayBuffer()) };
}
