/**
 * Runtime internals for the JobManager (planning) and the TaskManager (running operators). Not part
 * of the user API.
 */
export { planJob, instantiateJob, type JobFunction } from "./graph/plan.js";
export { buildJobGraph, type BuildOptions } from "./graph/build.js";
export { createOperatorChain, type OperatorChain } from "./operators/chain.js";
export {
  StreamOperator,
  combineOutputs,
  DISCARD,
  MIN_WATERMARK,
  MAX_WATERMARK,
  type Output,
  type OperatorRuntime,
  type OperatorEvent,
  type OperatorStateContext,
  type ProcessingTimeService,
} from "./operators/operator.js";
export { SourceOperator } from "./operators/source.js";
export { SinkOperator } from "./operators/sink.js";
export { StreamExecutionEnvironment } from "./api/environment.js";
export { type KeyContext, type InternalKeyedStateBackend, DEFAULT_NAMESPACE } from "./state/backend.js";
export { resolveTtl, type ResolvedTtl } from "./state/ttl.js";
export { KeyedOperator, keyedContext } from "./operators/keyed.js";
export { KeyedProcessOperator } from "./operators/keyed-function.js";
export { UserFunctionOperator } from "./operators/basic.js";
export { InternalTimerService, type InternalTimer, type Triggerable } from "./time/timer-service.js";
export { TimerHeap, type TimerHeapCapture, type KeyGroupedTimer } from "./time/timer-heap.js";
export { WatermarkEmitter } from "./time/watermark-emitter.js";
export { IntervalJoinOperator, BroadcastProcessOperator, KeyedBroadcastProcessOperator, broadcastStateName, type IntervalJoinSpec } from "./joins/index.js";
export { WindowOperator, type WindowOperatorOptions } from "./windowing/window-operator.js";
export { SlicingWindowOperator, type SlicingWindowOperatorOptions } from "./windowing/sliced-window-operator.js";
