import { RiffleError } from "@riffle/shared";
import type { Admin } from "kafkajs";
import type { SplitEnumerator, SplitEnumeratorContext } from "../../api/source.js";
import { createKafka, kafkaError } from "./client.js";
import type { KafkaSourceSettings } from "./source.js";
import { type KafkaPartitionSplit, ownerOf, splitIdOf, type StartingOffsets } from "./split.js";

/** The enumerator's checkpointed state (Flink's KafkaSourceEnumState). */
export interface KafkaEnumeratorState {
  /** Partitions some reader got: their offsets are in that reader's state. */
  assigned: string[];
  /** Partitions found but not yet given to their reader (it had not registered). */
  pending: KafkaPartitionSplit[];
  /** The first discovery is done: partitions found later start at their beginning. */
  initialDiscoveryDone: boolean;
}

/**
 * Finds the partitions of the source's topics and gives each to its reader (Flink's
 * KafkaSourceEnumerator). Runs in the JobManager. Starting offsets are resolved here, once, when a
 * partition is found, so a split always carries a plain offset; partitions found by periodic
 * discovery after the first one start at their earliest offset, as in Flink. A bounded source finds
 * partitions once and stops each at the end it had then.
 */
export class KafkaSourceEnumerator implements SplitEnumerator<KafkaPartitionSplit, KafkaEnumeratorState> {
  private readonly admin: Admin;
  private readonly assigned: Set<string>;
  private pending: KafkaPartitionSplit[];
  private initialDiscoveryDone: boolean;
  private timer: NodeJS.Timeout | undefined;
  private discovering: Promise<void> | undefined;
  private readonly noMoreSignalled = new Set<number>();
  private closed = false;

  constructor(
    private readonly ctx: SplitEnumeratorContext<KafkaPartitionSplit>,
    private readonly settings: KafkaSourceSettings,
    restored: KafkaEnumeratorState | undefined,
  ) {
    this.admin = createKafka(settings.client).admin();
    this.assigned = new Set(restored?.assigned ?? []);
    this.pending = restored?.pending ?? [];
    this.initialDiscoveryDone = restored?.initialDiscoveryDone ?? false;
  }

  async start(): Promise<void> {
    try {
      await this.admin.connect();
    } catch (err) {
      this.ctx.failJob(
        kafkaError(
          err,
          `the Kafka source ${this.ctx.sourceName} could not connect to ${this.settings.client.bootstrapServers.join(", ")}`,
          this.settings.client.bootstrapServers,
        ),
      );
      return;
    }
    await this.discover();
    const interval = this.settings.partitionDiscoveryIntervalMs;
    if (this.settings.bounded === undefined && interval > 0 && !this.closed) {
      this.timer = setInterval(() => void this.discover(), interval);
    }
  }

  addReader(subtaskId: number): void {
    this.noMoreSignalled.delete(subtaskId);
    this.assignPending();
  }

  addSplitsBack(splits: KafkaPartitionSplit[], _subtaskId: number): void {
    for (const s of splits) {
      this.assigned.delete(s.splitId);
      this.pending.push(s);
    }
    this.assignPending();
  }

  snapshotState(): KafkaEnumeratorState {
    return { assigned: [...this.assigned].sort(), pending: this.pending, initialDiscoveryDone: this.initialDiscoveryDone };
  }

  /** Its partitions, once the first discovery found them. */
  splitCount(): number | undefined {
    return this.initialDiscoveryDone ? this.assigned.size + this.pending.length : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.discovering?.catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }

  /** One round of discovery (never two at once); a failure fails the job with a clear reason. */
  private discover(): Promise<void> {
    this.discovering ??= this.discoverOnce()
      .catch((err: unknown) => {
        if (!this.closed)
          this.ctx.failJob(
            err instanceof RiffleError
              ? err
              : kafkaError(err, `the Kafka source ${this.ctx.sourceName} could not list its partitions`, this.settings.client.bootstrapServers),
          );
      })
      .finally(() => {
        this.discovering = undefined;
      });
    return this.discovering;
  }

  private async discoverOnce(): Promise<void> {
    const topics = await this.topics();
    if (this.closed) return;
    const metadata = topics.length > 0 ? await this.admin.fetchTopicMetadata({ topics }) : { topics: [] };
    const found: KafkaPartitionSplit[] = [];
    const known = new Set([...this.assigned, ...this.pending.map((s) => s.splitId)]);
    for (const t of metadata.topics) {
      const fresh = t.partitions.map((p) => p.partitionId).filter((p) => !known.has(splitIdOf(t.name, p)));
      if (fresh.length === 0) continue;
      // Partitions added while the job runs start at their beginning: their first records came after the job's start.
      const starting: StartingOffsets = this.initialDiscoveryDone ? { kind: "earliest" } : this.settings.startingOffsets;
      const offsets = await this.startingOffsets(t.name, fresh, starting);
      const ends = this.settings.bounded !== undefined ? await this.endOffsets(t.name) : undefined;
      for (const p of fresh.sort((a, b) => a - b)) {
        const split: KafkaPartitionSplit = { splitId: splitIdOf(t.name, p), topic: t.name, partition: p, offset: offsets.get(p) ?? 0 };
        if (ends) split.stoppingOffset = ends.get(p) ?? 0;
        found.push(split);
      }
    }
    if (this.closed) return;
    this.pending.push(...found);
    this.initialDiscoveryDone = true;
    this.assignPending();
  }

  /** The source's topics: those named (each must exist), or those matching its pattern now. */
  private async topics(): Promise<string[]> {
    const all = await this.admin.listTopics();
    const pattern = this.settings.topicPattern;
    if (pattern) return all.filter((t) => pattern.test(t) && !t.startsWith("__")).sort();
    const named = this.settings.topics ?? [];
    const missing = named.filter((t) => !all.includes(t));
    if (missing.length > 0) {
      throw new RiffleError(
        "KAFKA_TOPIC_NOT_FOUND",
        `the Kafka source ${this.ctx.sourceName} reads topic${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, which ${missing.length > 1 ? "do" : "does"} not exist on ${this.settings.client.bootstrapServers.join(", ")}; create ${missing.length > 1 ? "them" : "it"} first`,
      );
    }
    return named;
  }

  private async startingOffsets(topic: string, partitions: number[], starting: StartingOffsets): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const bounds = await this.admin.fetchTopicOffsets(topic);
    const low = new Map(bounds.map((b) => [b.partition, Number(b.low)]));
    const high = new Map(bounds.map((b) => [b.partition, Number(b.high)]));
    const edge = (p: number, which: "earliest" | "latest") => (which === "earliest" ? low.get(p) : high.get(p)) ?? 0;
    switch (starting.kind) {
      case "earliest":
      case "latest":
        for (const p of partitions) out.set(p, edge(p, starting.kind));
        return out;
      case "timestamp": {
        const byTime = await this.admin.fetchTopicOffsetsByTimestamp(topic, starting.timestamp);
        for (const p of partitions) {
          const o = Number(byTime.find((b) => b.partition === p)?.offset ?? -1);
          out.set(p, o >= 0 ? o : edge(p, "latest"));
        }
        return out;
      }
      case "committed": {
        const groupId = this.settings.groupId;
        if (!groupId) throw new RiffleError("KAFKA_CONFIG_INVALID", `the Kafka source ${this.ctx.sourceName} starts at committed offsets but has no groupId`);
        const [committed] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
        for (const p of partitions) {
          const o = Number(committed?.partitions.find((c) => c.partition === p)?.offset ?? -1);
          out.set(p, o >= 0 ? o : edge(p, starting.fallback));
        }
        return out;
      }
    }
  }

  private async endOffsets(topic: string): Promise<Map<number, number>> {
    const bounds = await this.admin.fetchTopicOffsets(topic);
    return new Map(bounds.map((b) => [b.partition, Number(b.high)]));
  }

  /** Gives every pending split whose reader has registered to it; a bounded source then tells readers that nothing more comes. */
  private assignPending(): void {
    const parallelism = this.ctx.currentParallelism();
    const registered = new Set(this.ctx.registeredReaders());
    const assignment = new Map<number, KafkaPartitionSplit[]>();
    const waiting: KafkaPartitionSplit[] = [];
    for (const split of this.pending) {
      const owner = ownerOf(split.topic, split.partition, parallelism);
      if (!registered.has(owner)) {
        waiting.push(split);
        continue;
      }
      let list = assignment.get(owner);
      if (!list) assignment.set(owner, (list = []));
      list.push(split);
      this.assigned.add(split.splitId);
    }
    this.pending = waiting;
    if (assignment.size > 0) this.ctx.assignSplits(assignment);
    if (this.settings.bounded === undefined || !this.initialDiscoveryDone) return;
    for (const reader of registered) {
      if (this.noMoreSignalled.has(reader) || waiting.some((s) => ownerOf(s.topic, s.partition, parallelism) === reader)) continue;
      this.noMoreSignalled.add(reader);
      this.ctx.signalNoMoreSplits(reader);
    }
  }
}
