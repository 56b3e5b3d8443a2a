import type { JobExceptions } from "@riffle/shared/rest-api";
import { get, jobPath } from "./api.js";
import { time } from "./format.js";
import { usePoll } from "./hooks.js";
import { href } from "./router.js";
import { ErrorText, Loading } from "./ui.js";

/** The job's root failure and the history of failures, newest first, with the TaskManager involved. */
export function ExceptionsTab({ jobId }: { jobId: string }) {
  const ex = usePoll(() => get<JobExceptions>(jobPath(jobId, "/exceptions")), `exceptions-${jobId}`);
  const e = ex.data;
  if (!e) return ex.error ? <ErrorText error={ex.error} /> : <Loading />;
  return (
    <div>
      <h2>Root cause</h2>
      {e["root-exception"] ? (
        <div class="error" data-testid="root-exception">
          {e["root-exception"]} <span class="muted">({time(e.timestamp)})</span>
        </div>
      ) : (
        <div class="muted">The job has not failed.</div>
      )}
      <h2>History</h2>
      <table class="table" data-testid="exceptions-table">
        <thead>
          <tr>
            <th>Time</th>
            <th>Code</th>
            <th>Message</th>
            <th>Task</th>
            <th>TaskManager</th>
          </tr>
        </thead>
        <tbody>
          {e.exceptionHistory.entries.map((x, i) => (
            <tr key={`${x.timestamp}-${i}`}>
              <td>{time(x.timestamp)}</td>
              <td class="mono">{x.exceptionName}</td>
              <td>{x.stacktrace}</td>
              <td>{x.taskName ?? "–"}</td>
              <td>
                {x.taskManagerId ? <a href={href("taskmanagers", x.taskManagerId)}>{x.taskManagerId}</a> : "–"}
                {x.endpoint && <div class="muted small mono">{x.endpoint}</div>}
              </td>
            </tr>
          ))}
          {e.exceptionHistory.entries.length === 0 && (
            <tr>
              <td colSpan={5} class="muted">
                No exceptions.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
