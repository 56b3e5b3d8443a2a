/**
 * Nexmark's queries on Riffle's DataStream API, each a function from the event stream to its result
 * rows (the row shapes of reference.ts). `job.ts` runs them; `queries.test.ts` checks them against
 * reference.ts.
 *
 *   const events = nexmarkEvents(env, { maxEvents: 1_000_000 });
 *   QUERIES.q5(events, env).sinkTo(new DiscardSink());
 */
import type { DataStream, StreamExecutionEnvironment } from "@riffle/sdk";
import type { Event } from "../model.js";
import { q0 } from "./q0.js";
import { q1 } from "./q1.js";
import { q2 } from "./q2.js";
import { q3 } from "./q3.js";
import { q4 } from "./q4.js";
import { q5 } from "./q5.js";
import { q7 } from "./q7.js";
import { q8 } from "./q8.js";

/** A query: the events in, its rows out. */
export type NexmarkQuery<R> = (events: DataStream<Event>, env: StreamExecutionEnvironment) => DataStream<R>;

/** Every query by name. */
export const QUERIES = { q0, q1, q2, q3, q4, q5, q7, q8 } as const;
export type QueryName = keyof typeof QUERIES;

/** Whether `name` names a query. */
export function isQueryName(name: string): name is QueryName {
  return Object.hasOwn(QUERIES, name);
}

export { DiscardSink } from "./discard-sink.js";
export { nexmarkEvents, bidsOf, auctionsOf, personsOf } from "./streams.js";
export { q0, q1, q2, q3, q4, q5, q7, q8 };
