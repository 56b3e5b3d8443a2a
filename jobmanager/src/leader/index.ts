/**
 * The JobManager's split into what always runs (REST, gRPC, metrics: jobmanager.ts) and what runs
 * only while it leads: a LeaderPart per leadership (registry, slots, fenced gateway, dispatcher, job
 * masters, coordinators, collect buffers), built and closed by the JobManagerLeadership contender.
 *
 * ```ts
 * const leadership = new JobManagerLeadership({ createPart: (stores) => new LeaderPart({ stores, ... }), address, events, clock, logger });
 * leadership.start(ha);                 // campaigns, follows the leader
 * leadership.require().dispatcher;      // NOT_LEADER unless this JobManager leads
 * ```
 */
export { JobManagerLeadership, type LeaderPartFactory, type LeadershipEvents } from "./leadership.js";
export { LeaderPart, type LeaderPartOptions } from "./leader-part.js";
