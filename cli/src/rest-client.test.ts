import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RiffleError, freePort, loadConfig } from "@riffle/shared";
import { InterruptedError } from "./errors.js";
import { RestClient, restAuthOf } from "./rest-client.js";

/** An HTTP server answering with a handler, standing in for the JobManager's REST front. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function failure(promise: Promise<unknown>): Promise<RiffleError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RiffleError);
  return err as RiffleError;
}

describe("RestClient", () => {
  it("sends a bearer token or basic credentials, and keeps a refusal's code", async () => {
    const seen: Array<string | undefined> = [];
    const { url, server } = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ code: "FORBIDDEN", message: "needs the operator role" }));
    });
    servers.push(server);
    expect((await failure(new RestClient(url, { token: "t0k" }).cancelJob("j"))).code).toBe("FORBIDDEN");
    await failure(new RestClient(url, { credentials: "u:p" }).overview());
    await failure(new RestClient(url).overview());
    expect(seen).toEqual(["Bearer t0k", `Basic ${Buffer.from("u:p").toString("base64")}`, undefined]);
  });

  it("takes the CLI's credentials from rest.client.*, else from the cluster's own rest.auth.*", () => {
    const config = (overrides: Record<string, string>) => loadConfig({ env: {}, overrides });
    expect(restAuthOf(config({}))).toEqual({});
    expect(restAuthOf(config({ "rest.auth.read-only-credentials": "r:o", "rest.auth.operator-token": "op" }))).toEqual({ token: "op" });
    expect(restAuthOf(config({ "rest.client.credentials": "me:pw", "rest.auth.operator-credentials": "a:b" }))).toEqual({ credentials: "me:pw" });
    expect(restAuthOf(config({ "rest.client.token": "mine", "rest.auth.operator-token": "op" }))).toEqual({ token: "mine" });
  });

  it("maps a refused connection to JOBMANAGER_UNREACHABLE with a hint", async () => {
    const port = await freePort();
    const err = await failure(new RestClient(`http://127.0.0.1:${port}`).listJobs());
    expect(err.code).toBe("JOBMANAGER_UNREACHABLE");
    expect(err.message).toBe(
      `cannot reach the JobManager at http://127.0.0.1:${port} (connection refused). Is it running? Start one with \`riffle cluster start\` or pass --jobmanager host:port.`,
    );
  });

  it("maps a JobManager that does not answer in time to JOBMANAGER_UNREACHABLE", async () => {
    const { url, server } = await serve(() => {
      // Never answers.
    });
    servers.push(server);
    const err = await failure(new RestClient(url, { timeoutMs: 200 }).overview());
    expect(err.code).toBe("JOBMANAGER_UNREACHABLE");
    expect(err.message).toContain("no answer within 0.2 s");
  });

  it("keeps the code and message of an error answer", async () => {
    const { url, server } = await serve((_req, res) => {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ code: "JOB_NOT_FOUND", message: "no job with id x" }));
    });
    servers.push(server);
    const err = await failure(new RestClient(url).job("x"));
    expect(err.code).toBe("JOB_NOT_FOUND");
    expect(err.message).toBe("no job with id x");
  });

  it("turns other error answers into codes by status", async () => {
    const { url, server } = await serve((req, res) => {
      if (req.url === "/jobs")
        res
          .writeHead(413, { "content-type": "application/json" })
          .end(JSON.stringify({ code: "FST_ERR_CTP_BODY_TOO_LARGE", message: "Request body is too large" }));
      else res.writeHead(502).end("bad gateway");
    });
    servers.push(server);
    const client = new RestClient(url);
    const tooLarge = await failure(client.submitJob({ bundle: "" }));
    expect(tooLarge.code).toBe("BAD_REQUEST");
    expect(tooLarge.message).toBe("FST_ERR_CTP_BODY_TOO_LARGE: Request body is too large");
    const gateway = await failure(client.overview());
    expect(gateway.code).toBe("INTERNAL");
    expect(gateway.message).toContain("502");
    expect(gateway.message).toContain("bad gateway");
  });

  it("sends JSON, encodes ids and accepts empty answers", async () => {
    const seen: { method?: string; url?: string; body: string }[] = [];
    const { url, server } = await serve((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, body });
        if (req.method === "POST") res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ jobid: "j1", jobUrl: "/jobs/j1" }));
        else res.writeHead(202).end();
      });
    });
    servers.push(server);
    const client = new RestClient(`${url}/`);
    expect(await client.submitJob({ bundle: "AAAA", name: "n", parallelism: 2, args: ["--x", "1"] })).toEqual({ jobid: "j1", jobUrl: "/jobs/j1" });
    await client.cancelJob("a/b");
    expect(seen).toEqual([
      { method: "POST", url: "/jobs", body: JSON.stringify({ bundle: "AAAA", name: "n", parallelism: 2, args: ["--x", "1"] }) },
      { method: "PATCH", url: "/jobs/a%2Fb?mode=cancel", body: "" },
    ]);
  });

  it("triggers savepoints, stops and rescales with Flink's request shapes and polls them", async () => {
    const seen: { method?: string; url?: string; body: string }[] = [];
    const { url, server } = await serve((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, body });
        const json = (status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
        if (req.method === "GET") json(200, { status: { id: "COMPLETED" }, operation: { location: "/sp/savepoint-1" } });
        else json(202, { "request-id": `t${seen.length}` });
      });
    });
    servers.push(server);
    const client = new RestClient(url);
    expect(await client.triggerSavepoint("j", { targetDirectory: "/sp", cancelJob: true })).toBe("t1");
    expect(await client.triggerSavepoint("j")).toBe("t2");
    expect(await client.stopJob("j", { targetDirectory: "/sp" })).toBe("t3");
    expect(await client.rescaleJob("j", 3)).toBe("t4");
    expect(await client.savepointStatus("j", "t1")).toEqual({ status: { id: "COMPLETED" }, operation: { location: "/sp/savepoint-1" } });
    await client.rescaleStatus("j", "t4");
    await client.submitJob({ bundle: "AAAA", savepointPath: "/sp/savepoint-1", allowNonRestoredState: true });
    expect(seen).toEqual([
      { method: "POST", url: "/jobs/j/savepoints", body: JSON.stringify({ "target-directory": "/sp", "cancel-job": true }) },
      { method: "POST", url: "/jobs/j/savepoints", body: "{}" },
      { method: "POST", url: "/jobs/j/stop", body: JSON.stringify({ targetDirectory: "/sp" }) },
      { method: "PATCH", url: "/jobs/j/rescaling?parallelism=3", body: "" },
      { method: "GET", url: "/jobs/j/savepoints/t1", body: "" },
      { method: "GET", url: "/jobs/j/rescaling/t4", body: "" },
      { method: "POST", url: "/jobs", body: JSON.stringify({ bundle: "AAAA", savepointPath: "/sp/savepoint-1", allowNonRestoredState: true }) },
    ]);
  });

  it("throws the abort reason when its signal aborts", async () => {
    const { url, server } = await serve(() => {
      // Never answers.
    });
    servers.push(server);
    const controller = new AbortController();
    const pending = new RestClient(url).results("j", 0, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new InterruptedError("SIGINT"));
    expect(await pending).toBeInstanceOf(InterruptedError);
  });
});
