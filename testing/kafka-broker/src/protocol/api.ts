import type { Clock, Logger } from "@riffle/shared";
import type { GroupCoordinator } from "../groups/group-coordinator.js";
import type { LogManager } from "../log/log-manager.js";
import type { TransactionCoordinator } from "../transactions/transaction-coordinator.js";
import type { Reader, Writer } from "./wire.js";

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  TxnOffsetCommit: 28,
  CreatePartitions: 37,
} as const;

/** What request handlers work with: the broker's stores and coordinators and its identity. */
export interface BrokerState {
  readonly logs: LogManager;
  readonly groups: GroupCoordinator;
  readonly transactions: TransactionCoordinator;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly nodeId: number;
  readonly host: string;
  /** The port given to clients in metadata: --advertised-port, else the one listened on. */
  port: number;
  readonly clusterId: string;
  /** Kafka's auto.create.topics.enable: a Metadata request for an unknown topic creates it. */
  readonly autoCreateTopics: boolean;
  /** Kafka's num.partitions: partitions of an auto-created topic. */
  readonly defaultPartitions: number;
  /** Every API this broker serves, for ApiVersions. */
  readonly apis: readonly Api[];
}

export interface RequestContext {
  readonly broker: BrokerState;
  readonly version: number;
  readonly clientId: string;
  readonly clientHost: string;
  /** Aborted when the connection closes, so a long poll stops waiting. */
  readonly signal: AbortSignal;
}

/** One API, typed end to end: decode the request, handle it, encode the response. */
export interface ApiSpec<Req, Res> {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first version using compact encodings and tagged fields (none by default). */
  readonly flexibleFrom?: number;
  /**
   * Whether `handle` applies all its effects before its first await (Produce: appends, then waits for
   * fsync), so the connection may start on the next request while this one waits. Default false.
   */
  readonly pipelined?: boolean;
  decode(r: Reader, version: number): Req;
  /** `null`: no response at all (a produce request with acks=0). */
  handle(req: Req, ctx: RequestContext): Promise<Res | null> | Res | null;
  encode(w: Writer, version: number, res: Res): void;
}

/** An API with its request and response types hidden, as the connection dispatches it. */
export interface Api {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly flexibleFrom: number;
  readonly pipelined: boolean;
  /** Decodes and handles a request; returns how to write the response body, or null for none. */
  process(r: Reader, ctx: RequestContext): Promise<((w: Writer) => void) | null>;
}

export function defineApi<Req, Res>(spec: ApiSpec<Req, Res>): Api {
  return {
    key: spec.key,
    name: spec.name,
    minVersion: spec.minVersion,
    maxVersion: spec.maxVersion,
    flexibleFrom: spec.flexibleFrom ?? Number.POSITIVE_INFINITY,
    pipelined: spec.pipelined ?? false,
    async process(r, ctx) {
      const req = spec.decode(r, ctx.version);
      const res = await spec.handle(req, ctx);
      return res === null ? null : (w) => spec.encode(w, ctx.version, res);
    },
  };
}
