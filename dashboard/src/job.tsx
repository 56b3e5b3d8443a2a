import { useRef, useState } from "preact/hooks";
import type {
  JobDetails,
  JobMetricsHistory,
  JobVertexBackPressure,
  JobVertexDetails,
  MetricCollection,
  OperationResult,
  TriggerResponse,
} from "@riffle/shared/rest-api";
import { backPressureLevel } from "@riffle/shared/rest-api/levels";
import { ApiError, api, get, jobPath } from "./api.js";
import { type ChartSeries, TimeChart } from "./chart.js";
import { AutoscalerTab } from "./autoscaler.js";
import { CheckpointsTab } from "./checkpoints.js";
import { ExceptionsTab } from "./exceptions.js";
import { count, duration, percent, rate, time, watermark } from "./format.js";
import { JobGraph } from "./graph.js";
import { useCanOperate, useConfig, useNow, usePoll } from "./hooks.js";
import { href, navigate } from "./router.js";
import { Confirm, ErrorText, LevelBadge, Loading, StateBadge, Tabs, useNotices } from "./ui.js";

const TERMINAL = ["FINISHED", "FAILED", "CANCELED"];

/** A job: its graph with live rates and back-pressure, its subtasks, checkpoints, exceptions and actions. */
export function JobPage({ jobId, tab, vertexId }: { jobId: string; tab: string; vertexId: string | undefined }) {
  const job = usePoll(() => get<JobDetails>(jobPath(jobId)), `job-${jobId}`);
  const now = useNow();
  const j = job.data;
  if (!j) {
    return (
      <div>
        <h1>Job {jobId}</h1>
        <ErrorText error={job.error} />
        {!job.error && <Loading />}
      </div>
    );
  }
  const tabs = [
    { id: "graph", label: "Overview", href: href("jobs", jobId) },
    { id: "checkpoints", label: "Checkpoints", href: href("jobs", jobId, "checkpoints") },
    { id: "exceptions", label: "Exceptions", href: href("jobs", jobId, "exceptions") },
    { id: "autoscaler", label: "Autoscaler", href: href("jobs", jobId, "autoscaler") },
    { id: "configuration", label: "Configuration", href: href("jobs", jobId, "configuration") },
  ];
  return (
    <div>
      <div class="page-head">
        <div>
          <h1 data-testid="job-name">{j.name}</h1>
          <div class="muted mono small">{j.jid}</div>
        </div>
        <JobActions job={j} reload={job.reload} />
      </div>
      <div class="job-facts">
        <span data-testid="job-state">
          <StateBadge state={j.state} />
        </span>
        <span>Started {time(j["start-time"])}</span>
        <span>Duration {duration(j["end-time"] > 0 ? j.duration : now - j["start-time"])}</span>
        <span>Max parallelism {j.maxParallelism}</span>
        <span data-testid="job-restarts">Restarts {j.numRestarts}</span>
      </div>
      {j.failure && (
        <div class="error" data-testid="job-failure">
          error[{j.failure.code}]: {j.failure.message}
        </div>
      )}
      <ErrorText error={job.error} />
      <Tabs tabs={tabs} current={tab} />
      {tab === "graph" && <GraphTab job={j} vertexId={vertexId} />}
      {tab === "checkpoints" && <CheckpointsTab jobId={jobId} />}
      {tab === "exceptions" && <ExceptionsTab jobId={jobId} />}
      {tab === "autoscaler" && <AutoscalerTab jobId={jobId} />}
      {tab === "configuration" && <ConfigurationTab job={j} />}
    </div>
  );
}

/** Cancel, savepoint, stop with savepoint and rescale, each confirmed; results arrive as notices. */
function JobActions({ job, reload }: { job: JobDetails; reload(): void }) {
  const canOperate = useCanOperate();
  const config = useConfig();
  const { push } = useNotices();
  const [dialog, setDialog] = useState<"cancel" | "savepoint" | "stop" | "rescale">();
  const [target, setTarget] = useState("");
  const [parallelism, setParallelism] = useState("");
  const running = job.state === "RUNNING";
  const ended = TERMINAL.includes(job.state);
  const why = canOperate ? undefined : "Needs operator credentials";

  /** Polls a savepoint, stop or rescale until it completed, then says where the savepoint is or why it failed. */
  const follow = async (what: string, statusPath: string) => {
    push("info", `${what} in progress…`);
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      let result: OperationResult;
      try {
        result = await get<OperationResult>(statusPath);
      } catch (err) {
        push("error", `${what}: ${String(err)}`);
        return;
      }
      if (result.status.id !== "COMPLETED") continue;
      const op = result.operation;
      if (op && "location" in op) push("ok", `${what} completed: ${op.location}`);
      else if (op) push("error", `${what} failed: error[${op["failure-cause"].class}]: ${op["failure-cause"]["stack-trace"]}`);
      reload();
      return;
    }
  };

  const actions = [
    { id: "savepoint" as const, label: "Savepoint", enabled: running, show: true },
    { id: "stop" as const, label: "Stop with savepoint", enabled: running, show: config.features["web-cancel"] },
    { id: "rescale" as const, label: "Rescale", enabled: running, show: config.features["web-rescale"] },
    { id: "cancel" as const, label: "Cancel", enabled: !ended, show: config.features["web-cancel"] },
  ];
  const targetField = (
    <label class="form">
      Target directory
      <input type="text" placeholder="state.savepoints.dir" value={target} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} />
    </label>
  );
  return (
    <div class="actions">
      {actions
        .filter((a) => a.show)
        .map((a) => (
          <button
            key={a.id}
            type="button"
            class={a.id === "cancel" ? "danger" : ""}
            data-testid={`action-${a.id}`}
            disabled={!canOperate || !a.enabled}
            title={why ?? (a.enabled ? undefined : `The job is ${job.state}`)}
            onClick={() => setDialog(a.id)}
          >
            {a.label}
          </button>
        ))}
      {dialog === "cancel" && (
        <Confirm
          title="Cancel the job"
          body={`Cancel ${job.name}? Its tasks stop now; its state is kept only in completed checkpoints.`}
          confirmLabel="Cancel job"
          danger
          onClose={() => setDialog(undefined)}
          run={async () => {
            await api("PATCH", `${jobPath(job.jid)}?mode=cancel`);
            push("ok", `Cancellation of ${job.name} requested`);
            reload();
          }}
        />
      )}
      {dialog === "savepoint" && (
        <Confirm
          title="Trigger a savepoint"
          body={`Take a savepoint of ${job.name}; the job keeps running.`}
          confirmLabel="Take savepoint"
          onClose={() => setDialog(undefined)}
          run={async () => {
            const body = target.trim() ? { "target-directory": target.trim() } : {};
            const { "request-id": rid } = await api<TriggerResponse>("POST", jobPath(job.jid, "/savepoints"), body);
            void follow("Savepoint", jobPath(job.jid, `/savepoints/${rid}`));
          }}
        >
          {targetField}
        </Confirm>
      )}
      {dialog === "stop" && (
        <Confirm
          title="Stop with a savepoint"
          body={`Take a savepoint of ${job.name}, then stop it (it ends FINISHED). Start it again from the savepoint.`}
          confirmLabel="Stop job"
          danger
          onClose={() => setDialog(undefined)}
          run={async () => {
            const body = target.trim() ? { targetDirectory: target.trim() } : {};
            const { "request-id": rid } = await api<TriggerResponse>("POST", jobPath(job.jid, "/stop"), body);
            void follow("Stop with savepoint", jobPath(job.jid, `/savepoints/${rid}`));
          }}
        >
          {targetField}
        </Confirm>
      )}
      {dialog === "rescale" && (
        <Confirm
          title="Rescale the job"
          body={`Stop ${job.name} with a savepoint and restart it from there at a new parallelism (up to ${job.maxParallelism}).`}
          confirmLabel="Rescale"
          onClose={() => setDialog(undefined)}
          run={async () => {
            const p = Number(parallelism);
            if (!Number.isInteger(p) || p < 1) throw new ApiError(400, "BAD_REQUEST", "enter a parallelism of at least 1");
            const { "request-id": rid } = await api<TriggerResponse>("PATCH", jobPath(job.jid, `/rescaling?parallelism=${p}`));
            void follow(`Rescale to ${p}`, jobPath(job.jid, `/rescaling/${rid}`));
          }}
        >
          <label class="form">
            New parallelism
            <input
              type="number"
              min="1"
              max={job.maxParallelism}
              value={parallelism}
              data-testid="rescale-parallelism"
              onInput={(e) => setParallelism((e.target as HTMLInputElement).value)}
            />
          </label>
        </Confirm>
      )}
    </div>
  );
}

/** Keeps the charts' points: the whole window once, then only newer points at each refresh. */
function useHistory(jobId: string) {
  const acc = useRef<{ until: number; step: number; vertices: Record<string, JobMetricsHistory["vertices"][string]> }>({ until: 0, step: 0, vertices: {} });
  return usePoll(async () => {
    const h = await get<JobMetricsHistory>(jobPath(jobId, `/metrics/history?since=${acc.current.until}`));
    const windowStart = Date.now() - 5 * 60_000;
    const vertices: typeof acc.current.vertices = {};
    for (const [vid, points] of Object.entries(h.vertices)) {
      vertices[vid] = [...(acc.current.vertices[vid] ?? []), ...points].filter((p) => p.t >= windowStart);
    }
    acc.current = { until: Math.max(acc.current.until, h.until), step: h.step, vertices };
    return acc.current;
  }, `history-${jobId}`);
}

const RATE: (v: number) => string = (v) => count(v);

function GraphTab({ job, vertexId }: { job: JobDetails; vertexId: string | undefined }) {
  const history = useHistory(job.jid);
  const sources = job.plan.nodes.filter((n) => n.inputs.length === 0).map((n) => n.id);
  const sinkIds = new Set(job.plan.nodes.map((n) => n.id));
  for (const n of job.plan.nodes) for (const i of n.inputs) sinkIds.delete(i.id);
  const vertices = history.data?.vertices ?? {};
  // The job's throughput: sums over source and sink vertices at the times all of them have points.
  const times = [...new Set(Object.values(vertices).flatMap((ps) => ps.map((p) => p.t)))].sort((a, b) => a - b);
  const at = (vid: string) => new Map((vertices[vid] ?? []).map((p) => [p.t, p]));
  const sourceMaps = sources.map(at);
  const sinkMaps = [...sinkIds].map(at);
  // Sources count what they emit into their chains (networked or not); a sink chained to its source receives that.
  const sourceSet = new Set(sources);
  const sinkList = [...sinkIds];
  const sum = (
    maps: Array<Map<number, { numRecordsInPerSecond: number; sourceNumRecordsOutPerSecond: number }>>,
    t: number,
    f: (i: number) => "numRecordsInPerSecond" | "sourceNumRecordsOutPerSecond",
  ) => {
    let total = 0;
    for (let i = 0; i < maps.length; i++) {
      const p = maps[i]!.get(t);
      if (!p) return null;
      total += p[f(i)];
    }
    return total;
  };
  const jobSeries: ChartSeries[] = [
    { label: "records out of sources/s", color: "#2563eb", format: RATE },
    { label: "records into sinks/s", color: "#16a34a", format: RATE },
  ];
  const selected = vertexId ?? undefined;
  const vertexPoints = selected ? (vertices[selected] ?? []) : [];
  return (
    <div>
      <JobGraph plan={job.plan} vertices={job.vertices} selected={selected} onSelect={(id) => navigate("jobs", job.jid, "vertices", id)} />
      <div class="charts">
        <TimeChart
          title="Job throughput"
          testid="chart-throughput"
          x={times.map((t) => t / 1000)}
          ys={[
            times.map((t) => sum(sourceMaps, t, () => "sourceNumRecordsOutPerSecond")),
            times.map((t) => sum(sinkMaps, t, (i) => (sourceSet.has(sinkList[i]!) ? "sourceNumRecordsOutPerSecond" : "numRecordsInPerSecond"))),
          ]}
          series={jobSeries}
        />
        {selected && (
          <TimeChart
            title={`${job.vertices.find((v) => v.id === selected)?.name ?? selected}: rates and time`}
            testid="chart-vertex"
            x={vertexPoints.map((p) => p.t / 1000)}
            ys={[
              vertexPoints.map((p) => p.numRecordsInPerSecond),
              vertexPoints.map((p) => p.numRecordsOutPerSecond),
              vertexPoints.map((p) => p.busyTimeMsPerSecond),
              vertexPoints.map((p) => p.backPressuredTimeMsPerSecond),
            ]}
            series={[
              { label: "in/s", color: "#16a34a", format: RATE },
              { label: "out/s", color: "#2563eb", format: RATE },
              { label: "busy ms/s", color: "#9333ea", axis: 1, format: (v) => String(Math.round(v)) },
              { label: "back-pressured ms/s", color: "#dc2626", axis: 1, format: (v) => String(Math.round(v)) },
            ]}
          />
        )}
      </div>
      <VerticesTable job={job} selected={selected} />
      {selected ? <VertexPanel jobId={job.jid} vertexId={selected} /> : <div class="muted">Click a vertex for its subtasks.</div>}
    </div>
  );
}

/** Every vertex with its totals and rates, as Flink lists them under the graph. */
function VerticesTable({ job, selected }: { job: JobDetails; selected: string | undefined }) {
  const exact = (n: number) => n.toLocaleString("en-US");
  return (
    <table class="table" data-testid="vertices-table">
      <thead>
        <tr>
          <th>Vertex</th>
          <th>Status</th>
          <th class="num">Parallelism</th>
          <th class="num">Records in</th>
          <th class="num">Records out</th>
          <th class="num">In/s</th>
          <th class="num">Out/s</th>
          <th class="num">Busy</th>
          <th>Back-pressure</th>
        </tr>
      </thead>
      <tbody>
        {job.vertices.map((v) => {
          const ratio = v.metrics.backPressuredTimeMsPerSecond / 1000;
          return (
            <tr
              key={v.id}
              class={`clickable${selected === v.id ? " selected" : ""}`}
              data-testid={`vertex-row-${v.id}`}
              onClick={() => navigate("jobs", job.jid, "vertices", v.id)}
            >
              <td>{v.name}</td>
              <td>
                <StateBadge state={v.status} />
              </td>
              <td class="num">{v.parallelism}</td>
              <td class="num" data-testid={`vertex-${v.id}-records-in`}>
                {exact(v.metrics["read-records"])}
              </td>
              <td class="num">{exact(v.metrics["write-records"])}</td>
              <td class="num">{rate(v.metrics.numRecordsInPerSecond)}</td>
              <td class="num">{rate(v.metrics.numRecordsOutPerSecond)}</td>
              <td class="num">{percent(v.metrics.busyTimeMsPerSecond / 1000)}</td>
              <td>
                <LevelBadge level={backPressureLevel(ratio)} /> {percent(ratio)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A vertex's subtasks: state, TaskManager, rates, back-pressure and watermarks. */
function VertexPanel({ jobId, vertexId }: { jobId: string; vertexId: string }) {
  const data = usePoll(async () => {
    const [details, backpressure, watermarks] = await Promise.all([
      get<JobVertexDetails>(jobPath(jobId, `/vertices/${encodeURIComponent(vertexId)}`)),
      get<JobVertexBackPressure>(jobPath(jobId, `/vertices/${encodeURIComponent(vertexId)}/backpressure`)),
      get<MetricCollection>(jobPath(jobId, `/vertices/${encodeURIComponent(vertexId)}/watermarks`)),
    ]);
    return { details, backpressure, watermarks };
  }, `vertex-${jobId}-${vertexId}`);
  if (!data.data) return data.error ? <ErrorText error={data.error} /> : <Loading />;
  const { details, backpressure, watermarks } = data.data;
  const wm = new Map(watermarks.map((m) => [m.id, m.value]));
  const bp = new Map(backpressure.subtasks.map((s) => [s.subtask, s]));
  return (
    <div class="panel" data-testid="vertex-panel">
      <div class="panel-title">
        {details.name} <span class="muted">· parallelism {details.parallelism} · back-pressure</span> <LevelBadge level={backpressure["backpressure-level"]} />
      </div>
      <table class="table" data-testid="subtasks-table">
        <thead>
          <tr>
            <th>#</th>
            <th>State</th>
            <th>TaskManager</th>
            <th class="num">Records in</th>
            <th class="num">In/s</th>
            <th class="num">Records out</th>
            <th class="num">Out/s</th>
            <th class="num">Busy</th>
            <th>Back-pressure</th>
            <th>Input watermark</th>
            <th>Output watermark</th>
          </tr>
        </thead>
        <tbody>
          {details.subtasks.map((s) => {
            const b = bp.get(s.subtask);
            return (
              <tr key={s.subtask} data-testid={`subtask-${s.subtask}`}>
                <td>
                  {s.subtask}
                  {s.attempt > 0 && <span class="muted small"> (attempt {s.attempt})</span>}
                </td>
                <td>
                  <StateBadge state={s.status} />
                </td>
                <td>
                  <a href={href("taskmanagers", s["taskmanager-id"])}>{s["taskmanager-id"]}</a>
                  <div class="muted small mono">{s.endpoint}</div>
                </td>
                <td class="num">{count(s.metrics["read-records"])}</td>
                <td class="num">{rate(s.metrics.numRecordsInPerSecond)}</td>
                <td class="num">{count(s.metrics["write-records"])}</td>
                <td class="num">{rate(s.metrics.numRecordsOutPerSecond)}</td>
                <td class="num">{percent(s.metrics.busyTimeMsPerSecond / 1000)}</td>
                <td>
                  {b ? <LevelBadge level={b["backpressure-level"]} /> : "–"} {b ? percent(b.ratio) : ""}
                </td>
                <td>{watermark(wm.get(`${s.subtask}.currentInputWatermark`))}</td>
                <td>{watermark(wm.get(`${s.subtask}.currentOutputWatermark`))}</td>
              </tr>
            );
          })}
          {details.subtasks.length === 0 && (
            <tr>
              <td colSpan={11} class="muted">
                Not deployed.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

function ConfigurationTab({ job }: { job: JobDetails }) {
  return (
    <div class="panel">
      <table class="table kv">
        <tbody>
          <tr>
            <th>Job id</th>
            <td class="mono">{job.jid}</td>
          </tr>
          <tr>
            <th>Max parallelism</th>
            <td>{job.maxParallelism}</td>
          </tr>
          <tr>
            <th>Vertices</th>
            <td>{job.vertices.map((v) => `${v.name} (${v.parallelism})`).join(", ")}</td>
          </tr>
          <tr>
            <th>Started from savepoint</th>
            <td class="mono">{job.savepoint ? `${job.savepoint.path} (checkpoint ${job.savepoint.checkpointId})` : "–"}</td>
          </tr>
          {Object.entries(job.timestamps)
            .filter(([, t]) => t > 0)
            .map(([state, t]) => (
              <tr key={state}>
                <th>{state}</th>
                <td>{time(t)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
