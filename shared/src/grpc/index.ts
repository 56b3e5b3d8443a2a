export * from "./messages.js";
export { PROTO_ROOT, serviceDefinition, type ServiceName } from "./proto.js";
export {
  CHANNEL_OPTIONS,
  DATA_CHANNEL_OPTIONS,
  FLOW_CONTROL_WINDOW,
  createClient,
  createServer,
  addService,
  bindServer,
  toServiceError,
  fromServiceError,
  unary,
  handleUnary,
  isErrorCodeOf,
} from "./channel.js";
