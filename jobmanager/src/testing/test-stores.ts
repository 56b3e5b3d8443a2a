import { fencingToken } from "@riffle/shared";
import { FileJobStore } from "../ha/standalone/file-job-store.js";
import { InMemoryCheckpointIdCounter, InMemoryCompletedCheckpointStore, InMemoryHaState } from "../ha/standalone/in-memory-stores.js";
import { JobStore as JobRecordFiles } from "../store/index.js";
import { silentLogger, TEST_JOB_ID } from "./fixtures.js";
import { TestingSession } from "./testing-leader-election-driver.js";

/**
 * The stores of a JobManager without high availability, for one job under one leadership the test
 * ends by hand (`session.active = false`): job records as files in `dir`, ids and pointers in memory.
 */
export function testStores(dir: string | undefined, jobId = TEST_JOB_ID, state = new InMemoryHaState()) {
  const session = new TestingSession(fencingToken(1n, "1"), 0);
  return {
    session,
    state,
    jobs: dir === undefined ? undefined : new FileJobStore(new JobRecordFiles(dir, silentLogger), session),
    counter: new InMemoryCheckpointIdCounter(state, jobId, session),
    checkpoints: new InMemoryCompletedCheckpointStore(state, jobId, session),
  };
}
