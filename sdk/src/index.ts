/**
 * @riffle/sdk — write stream processing jobs in TypeScript.
 *
 * ```ts
 * import type { StreamExecutionEnvironment } from "@riffle/sdk";
 *
 * export default function wordCount(env: StreamExecutionEnvironment) {
 *   env.readTextFile(env.param("input"))
 *     .flatMap((line: string) => line.toLowerCase().split(/\W+/).filter(Boolean))
 *     .map((word) => ({ word, count: 1 }))
 *     .keyBy((wc) => wc.word)
 *     .sum("count")
 *     .collect();
 * }
 * ```
 *
 * Run it with `riffle run word-count.ts --input words.txt` (an embedded cluster) or submit it to a
 * cluster with `riffle run -m host:8081 word-count.ts --input words.txt` (the JobManager's REST address).
 */
export { StreamExecutionEnvironment } from "./api/environment.js";
export { DataStream, KeyedStream, SingleOutputStreamOperator, DataStreamSink, IterativeStream } from "./api/datastream.js";
export { ConnectedStreams } from "./api/connected-streams.js";
export {
  IntervalJoin,
  IntervalJoined,
  BroadcastStream,
  BroadcastConnectedStream,
  JoinedStreams,
  JoinWhere,
  JoinEqualTo,
  JoinWithWindow,
  CoGroupedStreams,
  CoGroupWhere,
  CoGroupEqualTo,
  CoGroupWithWindow,
  type TaggedUnion,
  type BroadcastState,
  type ReadOnlyBroadcastState,
  type ProcessJoinFunction,
  type ProcessJoinContext,
  type JoinFunction,
  type FlatJoinFunction,
  type CoGroupFunction,
  type BroadcastProcessFunction,
  type KeyedBroadcastProcessFunction,
  type BroadcastBaseContext,
  type BroadcastReadOnlyContext,
  type BroadcastContext,
  type KeyedBroadcastReadOnlyContext,
  type KeyedBroadcastOnTimerContext,
} from "./joins/index.js";
export { OutputTag } from "./api/output-tag.js";
export {
  WindowedStream,
  AllWindowedStream,
  Window,
  TimeWindow,
  GlobalWindow,
  Time,
  type Duration,
  WindowAssigner,
  MergingWindowAssigner,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
  GlobalWindows,
  type WindowAssignerContext,
  type SessionWindowTimeGapExtractor,
  Trigger,
  TriggerResult,
  EventTimeTrigger,
  ProcessingTimeTrigger,
  CountTrigger,
  ContinuousEventTimeTrigger,
  ContinuousProcessingTimeTrigger,
  PurgingTrigger,
  NeverTrigger,
  type TriggerContext,
  type OnMergeContext,
  CountEvictor,
  TimeEvictor,
  DeltaEvictor,
  type Evictor,
  type EvictorContext,
  type TimestampedValue,
  type ProcessWindowFunction,
  type ProcessWindowFunctionLike,
  type ProcessAllWindowFunction,
  type ProcessAllWindowFunctionLike,
  type ProcessWindowContext,
} from "./windowing/index.js";
export {
  WatermarkStrategy,
  BoundedOutOfOrdernessWatermarks,
  WatermarksWithIdleness,
  type WatermarkGenerator,
  type WatermarkOutput,
  type WatermarkGeneratorContext,
  type TimestampAssigner,
} from "./time/watermark-strategy.js";
export type { TimerService, TimeDomain } from "./time/timer-service.js";
export type {
  RuntimeContext,
  MetricGroup,
  RichFunction,
  Collector,
  MapFunction,
  FilterFunction,
  FlatMapFunction,
  ReduceFunction,
  KeySelector,
  ProcessFunction,
  ProcessContext,
  KeyedProcessFunction,
  KeyedProcessContext,
  OnTimerContext,
  CoProcessFunction,
  KeyedCoProcessFunction,
  CoMapFunction,
  CoFlatMapFunction,
  CheckpointedFunction,
  CheckpointListener,
  FunctionInitializationContext,
} from "./api/functions.js";
export type { RestartStrategy, CheckpointSettings, StateBackendName } from "@riffle/shared";
export type {
  Source,
  SourceReader,
  SourceReaderContext,
  ReaderOutput,
  PollResult,
  Boundedness,
  SourceSplit,
  SplitEnumerator,
  SplitEnumeratorContext,
} from "./api/source.js";
export type { Sink, SinkWriter, SinkServices, SinkJobSettings, TwoPhaseCommitWriter, RestoredCheckpoint } from "./api/sink.js";
export { CollectionSource } from "./connectors/collection.js";
export { DatagenSource, type DatagenOptions, type SeededRandom } from "./connectors/datagen.js";
export { TextFileSource } from "./connectors/text-file.js";
export { PrintSink } from "./connectors/print.js";
export { FileSink } from "./connectors/file-sink.js";
export { CollectSink } from "./connectors/collect.js";
export { ExactlyOnceFileSink } from "./connectors/exactly-once-file-sink.js";
export {
  StateDescriptor,
  ValueStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  AggregatingStateDescriptor,
  type AggregateFunction,
  type AnyStateDescriptor,
  type StateKind,
} from "./state/descriptors.js";
export type { StateTtlConfig, TtlUpdateType } from "./state/ttl.js";
export type { ValueState, ListState, MapState, ReducingState, AggregatingState } from "./state/state.js";
export type { KeyedStateStore, OperatorStateStore, OperatorStateMode } from "./state/stores.js";
