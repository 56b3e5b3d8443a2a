import type { Logger, Registry, RiffleConfig } from "@riffle/shared";
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Autoscaler } from "../autoscaler/index.js";
import type { Dispatcher } from "../dispatcher/index.js";
import type { MetricsHistory } from "../metrics/index.js";
import type { TaskManagerRegistry } from "../registry/index.js";

/** What the REST routes read from. */
export interface RestContext {
  config: RiffleConfig;
  dispatcher: Dispatcher;
  registry: TaskManagerRegistry;
  /** The autoscaler, whose GET /jobs/:id/autoscaler is served when it is there. */
  autoscaler?: Autoscaler;
  metrics: Registry;
  metricsHistory: MetricsHistory;
  logger: Logger;
  /** Riffle's version, for /overview, /config and the OpenAPI document. */
  version: string;
  /** When the JobManager started (ms since the epoch). */
  startTime: number;
}

/** The fastify instance of the REST API, typed by the zod schemas of its routes. */
export type RestApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;
