/** The JobManager's gRPC side: its servers (ClientService, JobManagerService) and its client to TaskManagers. */
export { startRpcServer, type RpcServerOptions } from "./server.js";
export { GrpcTaskExecutorGateway } from "./task-executor-gateway.js";
export { jobSummaryOf } from "./job-summary.js";
