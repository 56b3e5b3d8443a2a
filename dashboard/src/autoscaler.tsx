import type { JobAutoscalerInfo } from "@riffle/shared/rest-api";
import { get, jobPath } from "./api.js";
import { percent, rate, time } from "./format.js";
import { usePoll } from "./hooks.js";
import { ErrorText, Loading } from "./ui.js";

/** The job's autoscaling (GET /jobs/:id/autoscaler): its state, per vertex current vs recommended parallelism and the rates behind it, and its decisions. */
export function AutoscalerTab({ jobId }: { jobId: string }) {
  const info = usePoll(() => get<JobAutoscalerInfo>(jobPath(jobId, "/autoscaler")), `autoscaler-${jobId}`);
  const a = info.data;
  if (!a) return info.error ? <ErrorText error={info.error} /> : <Loading />;
  return (
    <div>
      <div class="job-facts" data-testid="autoscaler-state">
        <span>Mode {a.mode}</span>
        <span>
          State {a.state} since {time(a.stateSince)}
        </span>
        <span>
          Window {a.metricsWindow.samples} samples{a.metricsWindow.full ? " (full)" : ""}
        </span>
        <span>
          Rescales {a.counts.rescales}, failed {a.counts.failures}, skipped {a.counts.skipped}
        </span>
      </div>
      {a.reason && <div class="muted">{a.reason}</div>}
      <h2>Vertices</h2>
      <table class="table" data-testid="autoscaler-vertices">
        <thead>
          <tr>
            <th>Vertex</th>
            <th>Parallelism</th>
            <th>Recommended</th>
            <th>In</th>
            <th>True rate</th>
            <th>Target</th>
            <th>Utilization</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {a.vertices.map((v) => (
            <tr key={v.id}>
              <td>{v.name}</td>
              <td>{v.parallelism}</td>
              <td>
                {v.recommendedParallelism}
                {v.scaleUpBlocked && <span class="muted small"> (scale-up blocked: ineffective)</span>}
              </td>
              <td>{rate(v.metrics?.numRecordsInPerSecond)}</td>
              <td>{v.metrics?.trueProcessingRate == null ? "–" : rate(v.metrics.trueProcessingRate)}</td>
              <td>{rate(v.metrics?.targetDataRate)}</td>
              <td>{v.metrics?.utilization == null ? "–" : percent(v.metrics.utilization)}</td>
              <td class="small">{v.reason ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Decisions</h2>
      <table class="table" data-testid="autoscaler-history">
        <thead>
          <tr>
            <th>Time</th>
            <th>Type</th>
            <th>What and why</th>
          </tr>
        </thead>
        <tbody>
          {[...a.history].reverse().map((e, i) => (
            <tr key={`${e.time}-${i}`}>
              <td>{time(e.time)}</td>
              <td class="mono">{e.type}</td>
              <td>
                {e.message}
                {e.vertices.map((v) => (
                  <div key={v.vertexId} class="muted small">
                    {v.vertexName}: {v.from} → {v.to}: {v.reason}
                  </div>
                ))}
              </td>
            </tr>
          ))}
          {a.history.length === 0 && (
            <tr>
              <td colSpan={3} class="muted">
                No decisions yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
