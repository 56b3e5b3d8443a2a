import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@riffle/shared";
import { ErrorCode, KafkaError } from "../protocol/errors.js";
import { Journal } from "./journal.js";
import { PartitionLog } from "./partition-log.js";

type TopicRecord = { op: "create"; topic: string; partitions: number } | { op: "partitions"; topic: string; count: number } | { op: "delete"; topic: string };

export interface Topic {
  name: string;
  partitions: PartitionLog[];
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why a topic name is not legal in Kafka, or undefined if it is. */
export function topicNameProblem(name: string): string | undefined {
  if (!LEGAL_TOPIC.test(name)) return `topic name "${name}" must be 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'`;
  if (name === "." || name === "..") return `topic name "${name}" is not allowed`;
  return undefined;
}

/**
 * The topics and their partition logs. Which topics exist, with how many partitions, is journaled in
 * `topics.jsonl`; each partition's records live in its own directory (see PartitionLog).
 */
export class LogManager {
  private readonly topics = new Map<string, Topic>();

  private constructor(
    private readonly dataDir: string,
    private readonly fsync: boolean,
    private readonly journal: Journal<TopicRecord>,
    private readonly logger: Logger,
  ) {}

  static open(dataDir: string, fsync: boolean, logger: Logger): LogManager {
    const { journal, records } = Journal.open<TopicRecord>(join(dataDir, "topics.jsonl"), fsync, compactTopics);
    const manager = new LogManager(dataDir, fsync, journal, logger);
    for (const r of records) if (r.op === "create") manager.openTopic(r.topic, r.partitions);
    return manager;
  }

  private openTopic(name: string, partitions: number): Topic {
    const topic: Topic = { name, partitions: [] };
    for (let p = 0; p < partitions; p++) topic.partitions.push(PartitionLog.open(this.dataDir, name, p, this.fsync, this.logger));
    this.topics.set(name, topic);
    return topic;
  }

  get(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  all(): Topic[] {
    return [...this.topics.values()];
  }

  async createTopic(name: string, partitions: number): Promise<Topic> {
    const problem = topicNameProblem(name);
    if (problem) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
    if (this.topics.has(name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic "${name}" already exists`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000)
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `a topic needs 1 to 10000 partitions, not ${partitions}`);
    // Leftovers of a deleted topic of the same name (a crash between its journal record and the
    // removal of its files) must not reappear in the new topic.
    for (let p = 0; p < partitions; p++) rmSync(join(this.dataDir, `${name}-${p}`), { recursive: true, force: true });
    const topic = this.openTopic(name, partitions);
    await this.journal.append({ op: "create", topic: name, partitions });
    this.logger.info({ topic: name, partitions }, "topic created");
    return topic;
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    this.topics.delete(name);
    await this.journal.append({ op: "delete", topic: name });
    for (const p of topic.partitions) {
      await p.close();
      rmSync(p.dir, { recursive: true, force: true });
    }
    this.logger.info({ topic: name }, "topic deleted");
  }

  async addPartitions(name: string, count: number): Promise<void> {
    const topic = this.topics.get(name);
    if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
    if (!Number.isInteger(count) || count <= topic.partitions.length || count > 10_000)
      throw new KafkaError(
        ErrorCode.INVALID_PARTITIONS,
        `topic "${name}" has ${topic.partitions.length} partitions; the new count must be above that (asked: ${count})`,
      );
    for (let p = topic.partitions.length; p < count; p++) topic.partitions.push(PartitionLog.open(this.dataDir, name, p, this.fsync, this.logger));
    await this.journal.append({ op: "partitions", topic: name, count });
    this.logger.info({ topic: name, partitions: count }, "partitions added");
  }

  async close(): Promise<void> {
    for (const t of this.topics.values()) for (const p of t.partitions) await p.close();
    await this.journal.close();
  }
}

/** One `create` record per live topic, with its latest partition count. */
function compactTopics(records: TopicRecord[]): TopicRecord[] {
  const live = new Map<string, number>();
  for (const r of records) {
    if (r.op === "create") live.set(r.topic, r.partitions);
    else if (r.op === "partitions") live.set(r.topic, r.count);
    else live.delete(r.topic);
  }
  return [...live].map(([topic, partitions]) => ({ op: "create", topic, partitions }));
}
