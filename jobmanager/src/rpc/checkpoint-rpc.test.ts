import type { JobDetails } from "@riffle/shared/rest-api";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import {
  loadConfig,
  rpc,
  type CheckpointNotification,
  type JobManagerHeartbeat,
  type JobVertex,
  type RegisterTaskManagerResponse,
  type TaskDeploymentDescriptor,
  type TaskManagerHeartbeat,
  type TaskRestore,
  type TriggerCheckpointRequest,
} from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobManager } from "../index.js";
import { silentLogger } from "../testing/fixtures.js";

type JobManagerClient = grpc.Client & { Heartbeat(): grpc.ClientDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat> };

/**
 * A stand-in TaskManager with one slot speaking the real protocol: it runs what it is given until
 * cancelled, and answers a checkpoint trigger by writing one state file per task it runs and
 * acknowledging for each of them (barriers would reach them all in a real TaskManager).
 */
class CheckpointingTaskManager {
  readonly deployed: TaskDeploymentDescriptor[] = [];
  readonly completed: CheckpointNotification[] = [];
  readonly live = new Map<string, TaskDeploymentDescriptor>();
  readonly jm: JobManagerClient;
  private stream: grpc.ClientDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat> | undefined;
  address = "";
  private readonly server = rpc.createServer();

  constructor(
    readonly id: string,
    jmAddress: string,
  ) {
    this.jm = rpc.createClient<JobManagerClient>("JobManagerService", jmAddress);
    rpc.addService(this.server, "TaskExecutorService", {
      DeployTask: rpc.handleUnary((tdd: TaskDeploymentDescriptor) => {
        this.deployed.push(tdd);
        this.live.set(tdd.executionId, tdd);
        setImmediate(() => void this.report(tdd, "RUNNING"));
        return {};
      }),
      CancelTask: rpc.handleUnary((req: { executionId: string }) => {
        const tdd = this.live.get(req.executionId);
        this.live.delete(req.executionId);
        if (tdd) setImmediate(() => void this.report(tdd, "CANCELED"));
        return {};
      }),
      TriggerCheckpoint: rpc.handleUnary((req: TriggerCheckpointRequest) => {
        setImmediate(() => void this.acknowledge(req));
        return {};
      }),
      NotifyCheckpointComplete: rpc.handleUnary((n: CheckpointNotification) => {
        this.completed.push(n);
        return {};
      }),
      NotifyCheckpointAborted: rpc.handleUnary(() => ({})),
    });
  }

  async start(): Promise<void> {
    const port = await rpc.bindServer(this.server, "127.0.0.1", 0);
    this.address = `127.0.0.1:${port}`;
    const res = await rpc.unary<object, RegisterTaskManagerResponse>(this.jm, "RegisterTaskManager", {
      taskmanagerId: this.id,
      address: this.address,
      slots: 1,
      metricsAddress: "127.0.0.1:1",
      pid: process.pid,
    });
    this.stream = this.jm.Heartbeat();
    this.stream.on("error", () => {});
    this.stream.write({ taskmanagerId: this.id, registrationId: res.registrationId, tasks: [] });
  }

  report(tdd: TaskDeploymentDescriptor, state: string, errorMessage = ""): Promise<unknown> {
    return rpc.unary(this.jm, "UpdateTaskExecutionState", {
      taskmanagerId: this.id,
      executionId: tdd.executionId,
      jobId: tdd.jobId,
      state,
      errorCode: state === "FAILED" ? "TASK_FAILED" : "",
      errorMessage,
    });
  }

  private async acknowledge(req: TriggerCheckpointRequest): Promise<void> {
    for (const tdd of this.live.values()) {
      if (tdd.jobId !== req.jobId) continue;
      const vertex = JSON.parse(tdd.vertexJson) as JobVertex;
      const path = `${tdd.vertexId}-${tdd.subtaskIndex}.state`;
      writeFileSync(join(req.targetDir, path), `state of ${tdd.executionId}`);
      const operators = [{ uid: vertex.operators[0]!.uid, keyed: [], operator: [{ kind: "operator", path, size: 20, states: {} }] }];
      await rpc.unary(this.jm, "AcknowledgeCheckpoint", {
        jobId: req.jobId,
        executionId: tdd.executionId,
        checkpointId: req.checkpointId,
        stateJson: JSON.stringify({ vertexId: tdd.vertexId, subtask: tdd.subtaskIndex, operators }),
        stateSize: 20,
        syncDurationMs: 1,
        asyncDurationMs: 2,
        alignmentDurationMs: 0,
      });
    }
  }

  close(): void {
    this.stream?.cancel();
    this.jm.close();
    this.server.forceShutdown();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface CheckpointEntryJson {
  id: number;
  status: string;
  state_size: number;
  num_subtasks: number;
  num_acknowledged_subtasks: number;
  external_path: string | null;
}

interface CheckpointStatsJson {
  counts: Record<string, number>;
  latest: { completed: CheckpointEntryJson | null; restored: { id: number; external_path: string } | null };
  history: CheckpointEntryJson[];
}

const JOB = `export default function(env) {
  env.enableCheckpointing(100, { tolerableFailures: 5 });
  env.fromElements(1, 2, 3).map((x) => x * 2).collect();
}`;

describe("checkpoints over gRPC", () => {
  let storage: string;
  let jm: JobManager;
  let base: string;
  let tm: CheckpointingTaskManager;

  beforeAll(async () => {
    storage = mkdtempSync(join(tmpdir(), "riffle-chk-rpc-"));
    const config = loadConfig({
      env: {},
      overrides: {
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": join(storage, "jm"),
        "state.checkpoints.dir": join(storage, "checkpoints"),
        "state.checkpoints.num-retained": 2,
        "restart-strategy.exponential-backoff.initial-delay": "50ms",
        "heartbeat.interval": "50ms",
        // The stand-in TaskManagers heartbeat once; nothing here tests the timeout, so it must not fire.
        "heartbeat.timeout": "10m",
      },
    });
    jm = await JobManager.create(config, silentLogger);
    base = `http://127.0.0.1:${jm.restPort}`;
    tm = new CheckpointingTaskManager("tm-1", `127.0.0.1:${jm.rpcPort}`);
    await tm.start();
  });

  afterAll(async () => {
    tm?.close();
    await jm?.close();
    rmSync(storage, { recursive: true, force: true });
  });

  const get = async <T = Record<string, unknown>>(path: string) => (await (await fetch(`${base}${path}`)).json()) as T;

  it("completes checkpoints, restarts from the latest after a task failure, and shows both over REST", async () => {
    const res = await fetch(`${base}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ bundle: Buffer.from(JOB).toString("base64"), name: "chk-job", parallelism: 1 }),
    });
    const { jobid: jobId } = (await res.json()) as { jobid: string };

    const config = await get(`/jobs/${jobId}/checkpoints/config`);
    expect(config).toEqual({
      mode: "exactly_once",
      interval: 100,
      timeout: 600_000,
      min_pause: 0,
      max_concurrent: 1,
      externalization: { enabled: true, delete_on_cancellation: false },
      state_backend: "memory",
      checkpoint_storage: "filesystem",
      unaligned_checkpoints: false,
      tolerable_failed_checkpoints: 5,
      checkpoints_after_tasks_finish: true,
      retained: 2,
      checkpoint_dir: join(storage, "checkpoints", jobId),
    });

    await until("two completed checkpoints", () => (new Set(tm.completed.map((n) => n.checkpointId)).size >= 2 ? true : undefined));
    const stats = await get<CheckpointStatsJson>(`/jobs/${jobId}/checkpoints`);
    expect(stats.counts.completed).toBeGreaterThanOrEqual(2);
    const latest = stats.latest.completed!;
    expect(latest).toMatchObject({ status: "COMPLETED", is_savepoint: false, num_acknowledged_subtasks: latest.num_subtasks, failure_message: null });
    expect(latest.state_size).toBe(20 * latest.num_subtasks);
    const metadata = JSON.parse(readFileSync(join(latest.external_path!, "_metadata"), "utf8"));
    expect(metadata).toMatchObject({ version: 1, jobId, checkpointId: latest.id, maxParallelism: 128 });
    expect(stats.history[0]).toMatchObject({ id: expect.any(Number) });
    const details = await get<CheckpointEntryJson>(`/jobs/${jobId}/checkpoints/details/${latest.id}`);
    expect(details).toMatchObject({ id: latest.id, status: "COMPLETED", checkpoint_type: "CHECKPOINT", external_path: latest.external_path });
    const missing = await fetch(`${base}/jobs/${jobId}/checkpoints/details/999999`);
    expect([missing.status, ((await missing.json()) as { code: string }).code]).toEqual([404, "NOT_FOUND"]);

    const first = tm.deployed.find((d) => d.jobId === jobId)!;
    await tm.report(first, "FAILED", "boom");
    const redeployed = await until("the redeployment", () => tm.deployed.find((d) => d.jobId === jobId && d.attempt === 1));
    const restore = JSON.parse(redeployed.restoreJson) as TaskRestore;
    expect(restore.checkpointId).toBeGreaterThanOrEqual(latest.id);
    expect(existsSync(join(restore.baseDir, "_metadata"))).toBe(true);
    expect(restore.operators[0]?.operator[0]?.path).toBe(`${first.vertexId}-${first.subtaskIndex}.state`);

    const job = await until("the job to run again", async () => {
      const j = await get<JobDetails>(`/jobs/${jobId}`);
      return j.state === "RUNNING" && j.numRestarts === 1 ? j : undefined;
    });
    expect(job.timestamps.RESTARTING).toBeGreaterThan(0);
    const exceptions = await get<{ exceptionHistory: { entries: object[] } }>(`/jobs/${jobId}/exceptions`);
    expect(exceptions.exceptionHistory.entries[0]).toMatchObject({ exceptionName: "TASK_FAILED" });
    const after = await get<CheckpointStatsJson>(`/jobs/${jobId}/checkpoints`);
    expect(after.latest.restored).toMatchObject({ id: restore.checkpointId, external_path: restore.baseDir });
    expect(after.counts.restored).toBe(1);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`riffle_job_numRestarts\\{job_id="${jobId}",process="jobmanager"\\} 1`));
    expect(metrics).toMatch(new RegExp(`riffle_job_numberOfCompletedCheckpoints\\{job_id="${jobId}",process="jobmanager"\\} [1-9]`));

    await fetch(`${base}/jobs/${jobId}?mode=cancel`, { method: "PATCH" });
    await until("the job to be cancelled", async () => ((await get<JobDetails>(`/jobs/${jobId}`)).state === "CANCELED" ? true : undefined));
  });
});
