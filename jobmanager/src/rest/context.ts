import type { Clock, Logger, Registry, RiffleConfig } from "@riffle/shared";
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Autoscaler } from "../autoscaler/index.js";
import type { Dispatcher } from "../dispatcher/index.js";
import type { JobManagerLeadership } from "../leader/index.js";
import type { MetricsHistory } from "../metrics/index.js";
import type { TaskManagerRegistry } from "../registry/index.js";

/**
 * What the REST routes read from. `dispatcher`, `registry` and `metricsHistory` are those of the leader
 * part of the moment, looked up at each access (NOT_LEADER when this JobManager does not lead): routes
 * read them per request, never once at registration.
 */
export interface RestContext {
  config: RiffleConfig;
  leadership: JobManagerLeadership;
  readonly dispatcher: Dispatcher;
  readonly registry: TaskManagerRegistry;
  readonly metricsHistory: MetricsHistory;
  /** The leader part's autoscaler (GET /jobs/:id/autoscaler). */
  readonly autoscaler: Autoscaler;
  metrics: Registry;
  logger: Logger;
  clock: Clock;
  /** Riffle's version, for /overview, /config and the OpenAPI document. */
  version: string;
  /** When the JobManager started (ms since the epoch). */
  startTime: number;
}

/** The fastify instance of the REST API, typed by the zod schemas of its routes. */
export type RestApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;
