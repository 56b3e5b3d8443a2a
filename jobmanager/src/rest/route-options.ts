import type { RouteSpec } from "@riffle/shared/rest-api";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route once `rest.auth.*` is configured; see RouteSpec.access. */
    access?: RouteSpec["access"];
    /** Served by a standby JobManager too; see RouteSpec.standby. */
    standby?: boolean;
  }
}

/**
 * Fastify route options from a route of @riffle/shared/rest-api: its schemas (validation, serialization
 * and OpenAPI), its access, and whether it is Flink's or Riffle's (the OpenAPI tag).
 */
export function routeOptions<S extends RouteSpec>(spec: S) {
  return {
    method: spec.method,
    url: spec.url,
    schema: { ...spec.schema, summary: spec.summary, tags: [spec.origin === "flink" ? "Flink-compatible" : "Riffle"] } as S["schema"] & {
      summary: string;
      tags: string[];
    },
    config: { access: spec.access, standby: spec.standby ?? false },
  };
}
