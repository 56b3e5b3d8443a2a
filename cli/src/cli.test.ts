import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@riffle/shared";

/** The built CLI (`npx tsc -b cli`), spawned as a real process. */
const CLI = resolve(fileURLToPath(new URL("../dist/main.js", import.meta.url)));
const work = mkdtempSync(join(tmpdir(), "riffle-cli-test-"));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node cli/dist/main.js ...args` in a scratch directory, without RIFFLE_* variables. */
function riffle(args: string[], cwd = work): Promise<Result> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RIFFLE_")));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the CLI first (npx tsc -b cli)`);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("riffle (spawned)", () => {
  it("reports an unreachable JobManager with JOBMANAGER_UNREACHABLE and exit code 1", async () => {
    const port = await freePort();
    const r = await riffle(["list", "-m", `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[JOBMANAGER_UNREACHABLE]");
    expect(r.stderr).toContain(`http://127.0.0.1:${port} (connection refused)`);
  });

  it("refuses an unknown --set key with CONFIG_INVALID and exit code 1", async () => {
    const r = await riffle(["list", "--set", "rest.prot=1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[CONFIG_INVALID\]: unknown configuration key "rest.prot"/);
  });

  it("reads --config files and refuses bad values in them", async () => {
    const file = join(work, "bad.yaml");
    writeFileSync(file, "rest:\n  port: seventy\n");
    const r = await riffle(["info", "some-job", "--config", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[CONFIG_INVALID]: invalid value "seventy" for rest.port');
  });

  it("exits 2 on usage errors", async () => {
    expect((await riffle(["list", "--no-such-flag"])).code).toBe(2);
    expect((await riffle(["cancel"])).code).toBe(2);
    expect((await riffle(["list", "-m", "ftp://x:1"])).code).toBe(2);
    const detached = await riffle(["run", "--detached", "job.ts"]);
    expect(detached.code).toBe(2);
    expect(detached.stderr).toContain("--detached needs --jobmanager");
  });

  it("reports a missing job file with FILE_NOT_FOUND", async () => {
    const r = await riffle(["run", "-m", "127.0.0.1:1", "missing-job.ts", "--input", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[FILE_NOT_FOUND]: job file not found: missing-job.ts");
  });

  it("prints the configuration reference", async () => {
    const r = await riffle(["config-docs"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# Configuration\n/);
    expect(r.stdout).toContain("| `rest.port` | `RIFFLE_REST_PORT` | `8081` |");
  });

  it("says so when there is no cluster to stop", async () => {
    const r = await riffle(["cluster", "stop"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("No cluster is running");
  });
});

describe("riffle cluster (recorded processes)", () => {
  const dir = join(work, "cluster-state");
  let stand: ReturnType<typeof spawn> | undefined;
  afterEach(() => {
    stand?.kill("SIGKILL");
    stand = undefined;
  });

  it("refuses to start over a live cluster and stops the recorded processes", async () => {
    mkdirSync(join(dir, ".riffle"), { recursive: true });
    // A stand-in for a background JobManager: a process whose command line names the CLI entry.
    stand = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", CLI, "jobmanager"], { stdio: "ignore" });
    const pid = stand.pid;
    const exited = new Promise((r) => stand?.once("exit", (_code, signal) => r(signal)));
    const state = {
      version: 1,
      startedAt: new Date().toISOString(),
      entry: CLI,
      logDir: join(dir, ".riffle/log"),
      restUrl: "http://127.0.0.1:1",
      processes: [{ name: "jobmanager", role: "jobmanager", pid, logFile: "x" }],
    };
    writeFileSync(join(dir, ".riffle/cluster.json"), JSON.stringify(state));

    const start = await riffle(["cluster", "start"], dir);
    expect(start.code).toBe(1);
    expect(start.stderr).toContain("error[CLUSTER_ALREADY_RUNNING]");
    expect(start.stderr).toContain(`jobmanager pid ${pid}`);

    const stop = await riffle(["cluster", "stop"], dir);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(`jobmanager (pid ${pid}) stopped`);
    expect(await exited).toBe("SIGTERM");
    expect(existsSync(join(dir, ".riffle/cluster.json"))).toBe(false);
  });
});

/**
 * A stand-in for the JobManager's REST front that records requests and answers from a script, to
 * check what `riffle run` sends and how it follows a job. (Runs on a real cluster are end-to-end tests.)
 */
class TestingRestServer {
  readonly requests: { method: string; url: string; body: unknown }[] = [];
  private server: Server | undefined;
  constructor(private readonly answer: (method: string, url: string, body: unknown, res: ServerResponse) => void) {}

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let text = "";
      req.on("data", (c: Buffer) => {
        text += c.toString();
      });
      req.on("end", () => {
        const body: unknown = text ? JSON.parse(text) : undefined;
        this.requests.push({ method: req.method ?? "", url: req.url ?? "", body });
        this.answer(req.method ?? "", req.url ?? "", body, res);
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

describe("riffle run against a JobManager's REST API", () => {
  let jobFile: string;
  beforeAll(() => {
    jobFile = join(work, "word-count.ts");
    writeFileSync(
      jobFile,
      'import { PrintSink, type StreamExecutionEnvironment } from "@riffle/sdk";\nexport default function (env: StreamExecutionEnvironment) { env.fromElements("a").sinkTo(new PrintSink()); }\n',
    );
  });

  it("submits the bundle with name, parallelism and the job's arguments, and prints the id when detached", async () => {
    const server = new TestingRestServer((method, _url, _body, res) =>
      method === "POST" ? json(res, 202, { jobid: "job-1", jobUrl: "/jobs/job-1" }) : json(res, 404, { code: "NOT_FOUND", message: "no" }),
    );
    const address = await server.start();
    try {
      const r = await riffle(["run", "-m", address, "-p", "3", "-d", jobFile, "--input", "words.txt", "-p", "7"]);
      expect(r.stderr).toBe("Job job-1 submitted\n");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("job-1\n");
      const submit = server.requests[0];
      expect(submit?.method).toBe("POST");
      const body = submit?.body as { bundle: string; name: string; parallelism: number; args: string[] };
      expect(body.name).toBe("word-count");
      expect(body.parallelism).toBe(3);
      expect(body.args).toEqual(["--input", "words.txt", "-p", "7"]);
      expect(Buffer.from(body.bundle, "base64").toString()).toMatch(/from\s*"@riffle\/sdk"/);
    } finally {
      await server.stop();
    }
  });

  it("prints the records as they come, then the final status; exit 0 when FINISHED", async () => {
    const pages = [
      { records: ["hello", { word: "a", count: 1 }], nextCursor: 2, finished: false, state: "RUNNING" },
      { records: [42], nextCursor: 3, finished: true, state: "FINISHED" },
    ];
    const server = new TestingRestServer((method, url, _body, res) => {
      if (method === "POST") return json(res, 202, { jobid: "j2", jobUrl: "/jobs/j2" });
      if (url.startsWith("/jobs/j2/results?cursor=")) return json(res, 200, pages[Number(url.split("=")[1]) === 0 ? 0 : 1]);
      if (url === "/jobs/j2")
        return json(res, 200, { jid: "j2", name: "wc", state: "FINISHED", "start-time": 1, "end-time": 43, duration: 42, maxParallelism: 128, vertices: [] });
      json(res, 404, { code: "NOT_FOUND", message: url });
    });
    const address = await server.start();
    try {
      const r = await riffle(["run", "-m", address, jobFile]);
      expect(r.stdout).toBe('hello\n{"word":"a","count":1}\n42\n');
      expect(r.stderr).toBe("Job j2 submitted\nJob j2 FINISHED in 42 ms\n");
      expect(r.code).toBe(0);
      expect(server.requests.filter((q) => q.url.includes("/results")).map((q) => q.url)).toEqual(["/jobs/j2/results?cursor=0", "/jobs/j2/results?cursor=2"]);
    } finally {
      await server.stop();
    }
  });

  it("prints the failure and exits 1 when the job FAILED", async () => {
    const server = new TestingRestServer((method, url, _body, res) => {
      if (method === "POST") return json(res, 202, { jobid: "j3", jobUrl: "/jobs/j3" });
      if (url.startsWith("/jobs/j3/results")) return json(res, 200, { records: [], nextCursor: 0, finished: true, state: "FAILED" });
      json(res, 200, {
        jid: "j3",
        name: "wc",
        state: "FAILED",
        "start-time": 1,
        "end-time": 8,
        duration: 7,
        maxParallelism: 128,
        vertices: [],
        failure: { code: "TASK_FAILED", message: "Map (1/1) failed: boom" },
      });
    });
    const address = await server.start();
    try {
      const r = await riffle(["run", "-m", address, jobFile]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe("Job j3 submitted\nJob j3 FAILED in 7 ms\nerror[TASK_FAILED]: Map (1/1) failed: boom\n");
    } finally {
      await server.stop();
    }
  });

  it("passes on a plan error from the JobManager", async () => {
    const server = new TestingRestServer((_m, _u, _b, res) =>
      json(res, 400, { code: "JOB_NO_DEFAULT_EXPORT", message: "the job module has no default export" }),
    );
    const address = await server.start();
    try {
      const r = await riffle(["run", "-m", address, jobFile]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe("error[JOB_NO_DEFAULT_EXPORT]: the job module has no default export\n");
    } finally {
      await server.stop();
    }
  });
});
