import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { Logger } from "@riffle/shared";
import type { RestApp } from "./context.js";

/** The built dashboard (package @riffle/dashboard, `npm run build`): index.html and hashed assets. */
export function dashboardDir(): string | undefined {
  try {
    const dir = join(dirname(createRequire(import.meta.url).resolve("@riffle/dashboard/package.json")), "dist");
    return existsSync(join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves the dashboard at `/`: its files are open to anyone (they hold no data), while everything
 * they show comes from the REST API under its access rules. Asset names carry a content hash, so
 * they are cached for good; index.html is revalidated.
 */
export async function registerDashboard(app: RestApp, logger: Logger): Promise<void> {
  const root = dashboardDir();
  if (!root) {
    logger.warn("the dashboard is not built (npm run build); / answers with a note instead");
    app.get("/", { schema: { hide: true }, config: { access: "open", standby: true } }, async (_req, reply) =>
      reply
        .status(503)
        .type("text/html")
        .send(
          '<!doctype html><title>Riffle</title><p>The dashboard is not built: run <code>npm run build</code>. The REST API is at <a href="/openapi.json">/openapi.json</a>.</p>',
        ),
    );
    return;
  }
  await app.register(fastifyStatic, { root, serve: false });
  app.get("/", { schema: { hide: true }, config: { access: "open", standby: true } }, async (_req, reply) =>
    reply.header("cache-control", "no-cache").sendFile("index.html", root, { cacheControl: false }),
  );
  app.get<{ Params: { "*": string } }>("/assets/*", { schema: { hide: true }, config: { access: "open", standby: true } }, async (req, reply) =>
    reply.sendFile(join("assets", req.params["*"]), root, { immutable: true, maxAge: "365d" }),
  );
}
