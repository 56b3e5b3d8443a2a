import { useState } from "preact/hooks";
import type { CheckpointConfig, CheckpointingStatistics, CheckpointStatistics } from "@riffle/shared/rest-api";
import { get, jobPath } from "./api.js";
import { TimeChart } from "./chart.js";
import { bytes, duration, time } from "./format.js";
import { usePoll } from "./hooks.js";
import { Card, ErrorText, Loading, StateBadge } from "./ui.js";

/** Counts, the latest checkpoints and savepoints, a timeline of durations and sizes, details, configuration. */
export function CheckpointsTab({ jobId }: { jobId: string }) {
  const stats = usePoll(() => get<CheckpointingStatistics>(jobPath(jobId, "/checkpoints")), `checkpoints-${jobId}`);
  const config = usePoll(() => get<CheckpointConfig>(jobPath(jobId, "/checkpoints/config")), `checkpoint-config-${jobId}`, 30_000);
  const [detail, setDetail] = useState<number>();
  if (stats.error?.code === "CHECKPOINTING_DISABLED") {
    return (
      <div class="panel muted" data-testid="checkpoints-disabled">
        This job takes no checkpoints ({stats.error.message}). Savepoints can still be taken.
      </div>
    );
  }
  const s = stats.data;
  if (!s) return stats.error ? <ErrorText error={stats.error} /> : <Loading />;
  // Oldest first for the timeline.
  const history = [...s.history].reverse();
  const savepoints = s.history.filter((c) => c.is_savepoint);
  return (
    <div>
      <div class="cards">
        <Card title="Completed" value={s.counts.completed} testid="checkpoints-completed" />
        <Card title="Failed" value={s.counts.failed} />
        <Card title="In progress" value={s.counts.in_progress} />
        <Card title="Restored" value={s.counts.restored} />
        <Card
          title="Latest completed"
          value={s.latest.completed ? `#${s.latest.completed.id}` : "–"}
          detail={
            s.latest.completed
              ? `${time(s.latest.completed.latest_ack_timestamp)} · ${duration(s.latest.completed.end_to_end_duration)} · ${bytes(s.latest.completed.state_size)}`
              : undefined
          }
          testid="checkpoints-latest"
        />
        <Card
          title="Latest failed"
          value={s.latest.failed ? `#${s.latest.failed.id}` : "–"}
          detail={s.latest.failed ? `${s.latest.failed.failure_reason ?? ""} ${s.latest.failed.failure_message ?? ""}` : undefined}
        />
      </div>
      <TimeChart
        title="Checkpoint timeline: end-to-end duration and state size"
        testid="chart-checkpoints"
        x={history.map((c) => c.trigger_timestamp / 1000)}
        ys={[
          history.map((c) => (c.status === "COMPLETED" ? c.end_to_end_duration : null)),
          history.map((c) => (c.status === "COMPLETED" ? c.state_size : null)),
        ]}
        series={[
          { label: "duration", color: "#2563eb", points: true, format: (v) => duration(v) },
          { label: "state size", color: "#ea580c", axis: 1, points: true, format: (v) => bytes(v) },
        ]}
      />
      <h2>History</h2>
      <table class="table" data-testid="checkpoints-table">
        <thead>
          <tr>
            <th>Id</th>
            <th>Status</th>
            <th>Type</th>
            <th>Triggered</th>
            <th class="num">End to end</th>
            <th class="num">Sync / async / alignment</th>
            <th class="num">State size</th>
            <th class="num">Acknowledged</th>
          </tr>
        </thead>
        <tbody>
          {s.history.map((c) => (
            <tr key={c.id} class="clickable" data-testid={`checkpoint-${c.id}`} onClick={() => setDetail(c.id)}>
              <td>#{c.id}</td>
              <td>
                <StateBadge state={c.status} />
              </td>
              <td>{c.checkpoint_type === "SAVEPOINT" ? "savepoint" : "checkpoint"}</td>
              <td>{time(c.trigger_timestamp)}</td>
              <td class="num">{duration(c.end_to_end_duration)}</td>
              <td class="num">
                {duration(c.sync_duration)} / {duration(c.async_duration)} / {duration(c.alignment_duration)}
              </td>
              <td class="num">{bytes(c.state_size)}</td>
              <td class="num">
                {c.num_acknowledged_subtasks}/{c.num_subtasks}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {detail !== undefined && <CheckpointDetail jobId={jobId} checkpointId={detail} />}
      <h2>Savepoints</h2>
      {s.latest.savepoint || savepoints.length > 0 ? (
        <table class="table" data-testid="savepoints-table">
          <tbody>
            {uniqueById([...(s.latest.savepoint ? [s.latest.savepoint] : []), ...savepoints]).map((c) => (
              <tr key={c.id}>
                <td>#{c.id}</td>
                <td>
                  <StateBadge state={c.status} />
                </td>
                <td>{time(c.trigger_timestamp)}</td>
                <td class="mono">{c.external_path ?? c.failure_message ?? "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <div class="muted">No savepoint taken.</div>
      )}
      <h2>Configuration</h2>
      {config.data ? (
        <table class="table kv">
          <tbody>
            {(
              [
                ["Mode", config.data.mode],
                ["Interval", duration(config.data.interval)],
                ["Timeout", duration(config.data.timeout)],
                ["Minimum pause", duration(config.data.min_pause)],
                ["Tolerable failed checkpoints", config.data.tolerable_failed_checkpoints],
                ["Retained", config.data.retained],
                ["State backend", config.data.state_backend],
                ["Storage", `${config.data.checkpoint_storage}: ${config.data.checkpoint_dir}`],
              ] as const
            ).map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <ErrorText error={config.error} />
      )}
    </div>
  );
}

function uniqueById(list: CheckpointStatistics[]): CheckpointStatistics[] {
  const seen = new Set<number>();
  return list.filter((c) => !seen.has(c.id) && seen.add(c.id));
}

function CheckpointDetail({ jobId, checkpointId }: { jobId: string; checkpointId: number }) {
  const detail = usePoll(() => get<CheckpointStatistics>(jobPath(jobId, `/checkpoints/details/${checkpointId}`)), `checkpoint-${jobId}-${checkpointId}`);
  const c = detail.data;
  if (!c) return <ErrorText error={detail.error} />;
  return (
    <div class="panel" data-testid="checkpoint-detail">
      <div class="panel-title">
        {c.checkpoint_type === "SAVEPOINT" ? "Savepoint" : "Checkpoint"} #{c.id}
      </div>
      <table class="table kv">
        <tbody>
          <tr>
            <th>Status</th>
            <td>
              <StateBadge state={c.status} />
            </td>
          </tr>
          <tr>
            <th>Triggered / last acknowledged</th>
            <td>
              {time(c.trigger_timestamp)} / {time(c.latest_ack_timestamp)}
            </td>
          </tr>
          <tr>
            <th>Durations</th>
            <td>
              end to end {duration(c.end_to_end_duration)}, sync {duration(c.sync_duration)}, async {duration(c.async_duration)}, alignment{" "}
              {duration(c.alignment_duration)}
            </td>
          </tr>
          <tr>
            <th>State size</th>
            <td>{bytes(c.state_size)}</td>
          </tr>
          <tr>
            <th>Subtasks acknowledged</th>
            <td>
              {c.num_acknowledged_subtasks} of {c.num_subtasks}
            </td>
          </tr>
          <tr>
            <th>Location</th>
            <td class="mono">{c.external_path ?? "–"}</td>
          </tr>
          {c.failure_message && (
            <tr>
              <th>Failure</th>
              <td>
                {c.failure_reason}: {c.failure_message} ({time(c.failure_timestamp)})
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
