import type { SourceSplit } from "../../api/source.js";

/**
 * One partition of a topic, as the enumerator assigns it and a reader checkpoints it (Flink's
 * KafkaPartitionSplit): the next offset to read, and for a bounded source the offset it stops at.
 */
export interface KafkaPartitionSplit extends SourceSplit {
  topic: string;
  partition: number;
  /** The offset of the next record to read. */
  offset: number;
  /** Bounded mode: the split is done once `offset` reaches this (the partition's end when the job started). */
  stoppingOffset?: number;
}

export function splitIdOf(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Which offset a partition starts at when no checkpoint says (Flink's OffsetsInitializer). */
export type StartingOffsets =
  | { kind: "earliest" }
  | { kind: "latest" }
  /** The group's committed offset; where it has none, `fallback`. */
  | { kind: "committed"; fallback: "earliest" | "latest" }
  /** The first record at or after this time (ms since the epoch); the end where there is none. */
  | { kind: "timestamp"; timestamp: number };

/** The offsets a source can start at (Flink's OffsetsInitializer). */
export const OffsetsInitializer = {
  earliest: (): StartingOffsets => ({ kind: "earliest" }),
  latest: (): StartingOffsets => ({ kind: "latest" }),
  committedOffsets: (fallback: "earliest" | "latest" = "earliest"): StartingOffsets => ({ kind: "committed", fallback }),
  timestamp: (timestamp: number): StartingOffsets => ({ kind: "timestamp", timestamp }),
};

/**
 * Which subtask reads a partition (Flink's KafkaSourceEnumerator.getSplitOwner): the partitions of a
 * topic go round-robin from a start that depends on the topic, so several topics spread evenly.
 */
export function ownerOf(topic: string, partition: number, parallelism: number): number {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (Math.imul(31, h) + topic.charCodeAt(i)) | 0;
  const start = (Math.imul(h, 31) & 0x7fffffff) % parallelism;
  return (start + partition) % parallelism;
}
