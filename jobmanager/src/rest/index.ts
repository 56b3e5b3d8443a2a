/** The JobManager's REST API (fastify), with Flink's paths where Flink has them. */
export { createRestServer, listenRest } from "./server.js";
export type { RestApp, RestContext } from "./context.js";
