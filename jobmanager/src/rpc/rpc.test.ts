import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import {
  createLogger,
  decodeBatch,
  encodeBatch,
  loadConfig,
  rpc,
  type JobManagerHeartbeat,
  type JobSummary,
  type RegisterTaskManagerResponse,
  type ResultBatch,
  type SubmitJobResponse,
  type TaskDeploymentDescriptor,
  type TaskManagerHeartbeat,
} from "@riffle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobManager } from "../index.js";

const logger = createLogger("test");
logger.level = "silent";

type JobManagerClient = grpc.Client & { Heartbeat(): grpc.ClientDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat> };
type ClientServiceClient = grpc.Client & { StreamResults(req: { jobId: string }): grpc.ClientReadableStream<ResultBatch> };

/**
 * A stand-in TaskManager speaking the real protocol: registers, heartbeats, accepts deployments and
 * plays each task to the end, the sink subtasks pushing two records each to the collect buffer.
 */
class TestingTaskManager {
  readonly deployed: TaskDeploymentDescriptor[] = [];
  readonly heartbeats: JobManagerHeartbeat[] = [];
  readonly jm: JobManagerClient;
  stream: grpc.ClientDuplexStream<TaskManagerHeartbeat, JobManagerHeartbeat> | undefined;
  streamError: grpc.ServiceError | undefined;
  registrationId = "";
  address = "";
  finishTasks = true;
  private readonly server = rpc.createServer();

  constructor(
    readonly id: string,
    jmAddress: string,
  ) {
    this.jm = rpc.createClient<JobManagerClient>("JobManagerService", jmAddress);
    rpc.addService(this.server, "TaskExecutorService", {
      DeployTask: rpc.handleUnary((tdd: TaskDeploymentDescriptor) => {
        this.deployed.push(tdd);
        if (this.finishTasks) setImmediate(() => void this.run(tdd));
        return {};
      }),
      CancelTask: rpc.handleUnary(() => ({})),
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
    this.registrationId = res.registrationId;
    this.openHeartbeats(this.registrationId);
  }

  openHeartbeats(registrationId: string): void {
    const stream = this.jm.Heartbeat();
    this.stream = stream;
    stream.on("data", (hb: JobManagerHeartbeat) => this.heartbeats.push(hb));
    stream.on("error", (err: grpc.ServiceError) => {
      this.streamError = err;
    });
    stream.write({ taskmanagerId: this.id, registrationId, tasks: [] });
  }

  private async run(tdd: TaskDeploymentDescriptor): Promise<void> {
    const state = (s: string) =>
      rpc.unary(this.jm, "UpdateTaskExecutionState", {
        taskmanagerId: this.id,
        executionId: tdd.executionId,
        jobId: tdd.jobId,
        state: s,
        errorCode: "",
        errorMessage: "",
      });
    await state("RUNNING");
    if (tdd.partitions.length === 0) {
      const records = [`${tdd.subtaskIndex}-a`, `${tdd.subtaskIndex}-b`];
      const batch = { jobId: tdd.jobId, executionId: tdd.executionId, subtaskIndex: tdd.subtaskIndex, sequence: 0, records: encodeBatch(records) };
      await rpc.unary(this.jm, "PushCollectBatch", batch);
      await rpc.unary(this.jm, "PushCollectBatch", batch);
    }
    await state("FINISHED");
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

const JOB = `export default function(env) { env.fromElements(1, 2, 3).map((x) => x * 2).collect(); }`;

describe("gRPC: ClientService and JobManagerService", () => {
  let storage: string;
  let jm: JobManager;
  let client: ClientServiceClient;
  let jmAddress: string;
  const taskmanagers: TestingTaskManager[] = [];

  beforeAll(async () => {
    storage = mkdtempSync(join(tmpdir(), "riffle-rpc-test-"));
    const config = loadConfig({
      env: {},
      overrides: {
        "rest.port": 0,
        "jobmanager.rpc.port": 0,
        "jobmanager.storage.dir": storage,
        "heartbeat.interval": "50ms",
        // The stand-in TaskManagers heartbeat once; nothing here tests the timeout, so it must not fire.
        "heartbeat.timeout": "10m",
        "jobmanager.cancel.timeout": "1s",
      },
    });
    jm = await JobManager.create(config, logger);
    jmAddress = `127.0.0.1:${jm.rpcPort}`;
    client = rpc.createClient<ClientServiceClient>("ClientService", jmAddress);
  });
  afterAll(async () => {
    for (const tm of taskmanagers) tm.close();
    client?.close();
    await jm?.close();
    rmSync(storage, { recursive: true, force: true });
  });

  const getJob = (jobId: string) => rpc.unary<object, JobSummary>(client, "GetJob", { jobId });
  const submit = async (parallelism: number) =>
    (await rpc.unary<object, SubmitJobResponse>(client, "SubmitJob", { bundle: Buffer.from(JOB), name: "rpc-job", parallelism, args: [] })).jobId;

  it("returns plan errors and unknown jobs as gRPC errors with the Riffle code", async () => {
    const bad = rpc.unary(client, "SubmitJob", { bundle: Buffer.from("export default 1 +;"), name: "", parallelism: 0, args: [] });
    await expect(bad).rejects.toMatchObject({ code: "BUNDLE_INVALID" });
    await expect(getJob("f".repeat(32))).rejects.toMatchObject({ code: "JOB_NOT_FOUND" });
  });

  it("runs a job on two TaskManagers and streams its collected records", async () => {
    for (const id of ["tm-1", "tm-2"]) {
      const tm = new TestingTaskManager(id, jmAddress);
      taskmanagers.push(tm);
      await tm.start();
    }
    const jobId = await submit(2);
    const records: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = client.StreamResults({ jobId });
      stream.on("data", (batch: ResultBatch) => records.push(...decodeBatch(batch.records)));
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    expect(records.sort()).toEqual(["0-a", "0-b", "1-a", "1-b"]);
    expect(await getJob(jobId)).toMatchObject({ jobId, name: "rpc-job", status: "FINISHED", failureCode: "" });
    expect(taskmanagers.map((tm) => tm.deployed.length).sort()).toEqual([1, 2]);
    const list = await rpc.unary<object, { jobs: JobSummary[] }>(client, "ListJobs", {});
    expect(list.jobs.map((j) => j.jobId)).toContain(jobId);
  });

  it("heartbeats the executions it expects, and fails the job when a TaskManager's connection breaks", async () => {
    for (const tm of taskmanagers) tm.finishTasks = false;
    const jobId = await submit(2);
    const lost = taskmanagers[1]!;
    const executionId = await until("a deployment", () => lost.deployed.find((d) => d.jobId === jobId)?.executionId);
    await until("a heartbeat naming the execution", () => (lost.heartbeats.some((hb) => hb.executionIds.includes(executionId)) ? true : undefined));
    lost.stream!.cancel();
    const job = await until("the job to fail", async () => {
      const j = await getJob(jobId);
      return j.status === "FAILED" ? j : undefined;
    });
    expect(job.failureCode).toBe("TASKMANAGER_LOST");
    expect(job.failureMessage).toBe(`TaskManager ${lost.id} (${lost.address}) was lost: its connection broke`);
  });

  it("ends a heartbeat stream of an unknown registration with an error", async () => {
    const tm = new TestingTaskManager("tm-ghost", jmAddress);
    taskmanagers.push(tm);
    tm.openHeartbeats("not-a-registration");
    const err = await until("the stream error", () => tm.streamError);
    expect(rpc.fromServiceError(err, "Heartbeat").code).toBe("TASKMANAGER_NOT_FOUND");
  });
});
