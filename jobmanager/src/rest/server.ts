import type { AddressInfo } from "node:net";
import { RiffleError } from "@riffle/shared";
import { fastify, type FastifyInstance } from "fastify";
import { registerClusterRoutes } from "./cluster-routes.js";
import type { RestContext } from "./context.js";
import { toHttpError } from "./http-errors.js";
import { registerJobRoutes } from "./job-routes.js";

/** The REST API: every answer is JSON, every error `{code, message}`. */
export function createRestServer(ctx: RestContext): FastifyInstance {
  const app = fastify({ bodyLimit: ctx.config["rest.body-limit"], logger: false, forceCloseConnections: true });
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) ctx.logger.error({ method: req.method, url: req.url, code: body.code, err: body.message }, "REST request failed");
    else ctx.logger.debug({ method: req.method, url: req.url, code: body.code, err: body.message }, "REST request refused");
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ code: "NOT_FOUND", message: `no such endpoint: ${req.method} ${req.url}` }));
  registerJobRoutes(app, ctx);
  registerClusterRoutes(app, ctx);
  return app;
}

/** Listens on host:port (0 = a free port) and resolves with the bound port; PORT_IN_USE when taken. */
export async function listenRest(app: FastifyInstance, host: string, port: number): Promise<number> {
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
