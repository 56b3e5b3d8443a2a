import type { AddressInfo } from "node:net";
import fastifySwagger from "@fastify/swagger";
import { RiffleError } from "@riffle/shared";
import { fastify } from "fastify";
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
  app.addHook("onRequest", async (req, reply) => {
    // Routes without a declared access (none today) count as read-only: nothing is open by omission.
    auth.check(req.routeOptions.config?.access ?? "read-only", req.headers.authorization, `${req.method} ${req.routeOptions.url ?? req.url}`);
    // Only the leader serves the cluster's state and actions; a standby sends the caller to the
    // leader (307 keeps the method and body), or says why there is none. Unknown paths stay 404s.
    if (req.routeOptions.config?.standby || req.routeOptions.url === undefined || ctx.leadership.serving()) return;
    const leader = ctx.leadership.otherLeader();
    const body = { code: "NOT_LEADER", message: ctx.leadership.whyNotLeader() };
    if (leader) return reply.status(307).header("location", `${leader.restAddress}${req.url}`).send(body);
    return reply.status(503).header("retry-after", "1").send(body);
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
