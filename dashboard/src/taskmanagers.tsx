import type { TaskManagerDetailsInfo, TaskManagersInfo } from "@riffle/shared/rest-api";
import { get } from "./api.js";
import { bytes, duration, percent } from "./format.js";
import { usePoll } from "./hooks.js";
import { href } from "./router.js";
import { ErrorText, Loading, StateBadge } from "./ui.js";

/** Every TaskManager with its slots, memory, event-loop lag, network buffers and tasks. */
export function TaskManagersPage() {
  const tms = usePoll(async () => {
    const { taskmanagers } = await get<TaskManagersInfo>("/taskmanagers");
    return Promise.all(taskmanagers.map((tm) => get<TaskManagerDetailsInfo>(`/taskmanagers/${encodeURIComponent(tm.id)}`)));
  }, "taskmanagers");
  return (
    <div>
      <h1>TaskManagers</h1>
      <ErrorText error={tms.error} />
      {!tms.data ? (
        <Loading />
      ) : (
        <table class="table" data-testid="taskmanagers-table">
          <thead>
            <tr>
              <th>TaskManager</th>
              <th class="num">Slots free</th>
              <th class="num">RSS</th>
              <th class="num">Heap used / committed</th>
              <th class="num">Event-loop lag</th>
              <th>Network buffers in use</th>
              <th class="num">Tasks</th>
              <th class="num">Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {tms.data.map((tm) => (
              <tr key={tm.id}>
                <td>
                  <a href={href("taskmanagers", tm.id)}>{tm.id}</a>
                  <div class="muted small mono">
                    {tm.path} · pid {tm.pid}
                  </div>
                </td>
                <td class="num">
                  {tm.freeSlots}/{tm.slotsNumber}
                </td>
                <Measured tm={tm} />
                <td class="num">{tm.tasks.length}</td>
                <td class="num">{duration(tm.timeSinceLastHeartbeat)} ago</td>
              </tr>
            ))}
            {tms.data.length === 0 && (
              <tr>
                <td colSpan={8} class="muted">
                  No TaskManager is registered.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Measured({ tm }: { tm: TaskManagerDetailsInfo }) {
  const m = tm.metrics;
  if (!m) {
    return (
      <td colSpan={4} class="muted" title={tm.metricsError}>
        not measured: {tm.metricsError}
      </td>
    );
  }
  const used = m.nettyShuffleMemorySegmentsTotal > 0 ? m.nettyShuffleMemorySegmentsUsed / m.nettyShuffleMemorySegmentsTotal : 0;
  return (
    <>
      <td class="num">{bytes(m.rss)}</td>
      <td class="num">
        {bytes(m.heapUsed)} / {bytes(m.heapCommitted)}
      </td>
      <td class="num">{duration(m.eventLoopLagMs)}</td>
      <td>
        <div class="meter" title={`${m.nettyShuffleMemorySegmentsUsed} of ${m.nettyShuffleMemorySegmentsTotal}`}>
          <div class="meter-fill" style={{ width: `${Math.round(used * 100)}%` }} />
        </div>
        <span class="small">
          {m.nettyShuffleMemorySegmentsUsed}/{m.nettyShuffleMemorySegmentsTotal} ({percent(used)})
        </span>
      </td>
    </>
  );
}

/** One TaskManager and the tasks it runs. */
export function TaskManagerPage({ id }: { id: string }) {
  const tm = usePoll(() => get<TaskManagerDetailsInfo>(`/taskmanagers/${encodeURIComponent(id)}`), `taskmanager-${id}`);
  const t = tm.data;
  return (
    <div>
      <h1>TaskManager {id}</h1>
      <ErrorText error={tm.error} />
      {!t ? (
        !tm.error && <Loading />
      ) : (
        <>
          <table class="table kv">
            <tbody>
              <tr>
                <th>Address</th>
                <td class="mono">
                  {t.path} (metrics {t.metricsAddress}, pid {t.pid})
                </td>
              </tr>
              <tr>
                <th>Slots</th>
                <td>
                  {t.freeSlots} free of {t.slotsNumber}
                  {t.allocatedSlots.map((s) => (
                    <span key={s.index} class="small">
                      {" "}
                      · slot {s.index}: <a href={href("jobs", s.jobId)}>{s.jobId.slice(0, 8)}</a>
                    </span>
                  ))}
                </td>
              </tr>
              <tr>
                <th>Memory</th>
                <td>{t.metrics ? `RSS ${bytes(t.metrics.rss)}, heap ${bytes(t.metrics.heapUsed)} of ${bytes(t.metrics.heapCommitted)}` : t.metricsError}</td>
              </tr>
              <tr>
                <th>Event-loop lag</th>
                <td>{t.metrics ? duration(t.metrics.eventLoopLagMs) : "–"}</td>
              </tr>
              <tr>
                <th>Network buffers</th>
                <td>{t.metrics ? `${t.metrics.nettyShuffleMemorySegmentsUsed} in use of ${t.metrics.nettyShuffleMemorySegmentsTotal}` : "–"}</td>
              </tr>
            </tbody>
          </table>
          <h2>Tasks</h2>
          <table class="table" data-testid="tm-tasks-table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Vertex</th>
                <th class="num">Subtask</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {t.tasks.map((task) => (
                <tr key={task.executionId}>
                  <td>
                    <a href={href("jobs", task.jobId)}>{task.jobName}</a>
                  </td>
                  <td>
                    <a href={href("jobs", task.jobId, "vertices", task.vertexId)}>{task.vertexName}</a>
                  </td>
                  <td class="num">
                    {task.subtask}
                    {task.attempt > 0 ? ` (attempt ${task.attempt})` : ""}
                  </td>
                  <td>
                    <StateBadge state={task.status} />
                  </td>
                </tr>
              ))}
              {t.tasks.length === 0 && (
                <tr>
                  <td colSpan={4} class="muted">
                    No tasks.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
