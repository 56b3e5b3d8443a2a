/**
 * The cluster's etcd keys, relative to `/riffle/<cluster-id>/`:
 *
 *   leader/election/<lease id hex>       one per campaigning JobManager, attached to its lease; the
 *                                        oldest (lowest create revision) leads
 *   leader/info                          the leader's LeaderInformation (JSON), attached to its lease
 *   jobs/<job id>                        the job's record (JSON; a large graph in storageDir)
 *   job-results/<job id>                 how the job ended, and whether its data was cleaned up
 *   checkpoints/<job id>/counter         the next checkpoint id (decimal)
 *   checkpoints/<job id>/completed/<id>  a retained checkpoint's pointer (id zero-padded to 20 digits,
 *                                        so key order is id order)
 */
export const ELECTION_PREFIX = "leader/election/";
export const LEADER_INFO_KEY = "leader/info";
export const JOBS_PREFIX = "jobs/";
export const JOB_RESULTS_PREFIX = "job-results/";

export const jobKey = (jobId: string): string => `${JOBS_PREFIX}${jobId}`;
export const jobResultKey = (jobId: string): string => `${JOB_RESULTS_PREFIX}${jobId}`;
export const checkpointsPrefix = (jobId: string): string => `checkpoints/${jobId}/`;
export const checkpointCounterKey = (jobId: string): string => `${checkpointsPrefix(jobId)}counter`;
export const completedCheckpointsPrefix = (jobId: string): string => `${checkpointsPrefix(jobId)}completed/`;
export const completedCheckpointKey = (jobId: string, id: number): string => `${completedCheckpointsPrefix(jobId)}${String(id).padStart(20, "0")}`;
