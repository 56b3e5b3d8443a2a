/**
 * Joins and two-input patterns: interval joins, window joins and coGroups, and the broadcast state
 * pattern. Users reach them from DataStream methods (`intervalJoin`, `join`, `coGroup`,
 * `broadcast(descriptor)` + `connect`); this module is the folder's only door.
 */
export { IntervalJoin, IntervalJoined } from "./interval-join.js";
export { BroadcastStream, BroadcastConnectedStream } from "./broadcast.js";
export {
  JoinedStreams,
  JoinWhere,
  JoinEqualTo,
  JoinWithWindow,
  CoGroupedStreams,
  CoGroupWhere,
  CoGroupEqualTo,
  CoGroupWithWindow,
  type TaggedUnion,
} from "./window-join.js";
export type { BroadcastState, ReadOnlyBroadcastState } from "./broadcast-state.js";
export type {
  ProcessJoinFunction,
  ProcessJoinContext,
  JoinFunction,
  FlatJoinFunction,
  CoGroupFunction,
  BroadcastProcessFunction,
  KeyedBroadcastProcessFunction,
  BroadcastBaseContext,
  BroadcastReadOnlyContext,
  BroadcastContext,
  KeyedBroadcastReadOnlyContext,
  KeyedBroadcastOnTimerContext,
} from "./functions.js";
/** Operators, for the runtime and operator tests (exported through `@riffle/sdk/internal`). */
export { IntervalJoinOperator, type IntervalJoinSpec } from "./interval-join-operator.js";
export { BroadcastProcessOperator, KeyedBroadcastProcessOperator, broadcastStateName } from "./broadcast-operators.js";
