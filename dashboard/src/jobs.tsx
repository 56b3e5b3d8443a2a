import { useState } from "preact/hooks";
import type { JobOverview, MultipleJobsDetails, SubmitJobRequest, SubmitJobResponse } from "@riffle/shared/rest-api";
import { api, get } from "./api.js";
import { count, duration, time } from "./format.js";
import { useCanOperate, useConfig, useNow, usePoll } from "./hooks.js";
import { href, navigate } from "./router.js";
import { ErrorText, Loading, Modal, StateBadge, useNotices } from "./ui.js";

const FILTERS: Array<{ id: string; label: string; test(j: JobOverview): boolean }> = [
  { id: "all", label: "All", test: () => true },
  { id: "running", label: "Running", test: (j) => !["FINISHED", "FAILED", "CANCELED"].includes(j.state) },
  { id: "finished", label: "Finished", test: (j) => j.state === "FINISHED" },
  { id: "failed", label: "Failed", test: (j) => j.state === "FAILED" },
  { id: "canceled", label: "Canceled", test: (j) => j.state === "CANCELED" },
];

/** Every job with state, duration, parallelism and throughput, filtered by state; submission for operators. */
export function JobsPage() {
  const jobs = usePoll(() => get<MultipleJobsDetails>("/jobs/overview"), "jobs-overview");
  const [filter, setFilter] = useState("all");
  const [text, setText] = useState("");
  const [submitting, setSubmitting] = useState(false);
  const canOperate = useCanOperate();
  const config = useConfig();
  const now = useNow();
  const test = FILTERS.find((f) => f.id === filter)!.test;
  const list = (jobs.data?.jobs ?? []).filter((j) => test(j) && (text === "" || j.name.toLowerCase().includes(text.toLowerCase()) || j.jid.startsWith(text)));
  return (
    <div>
      <div class="page-head">
        <h1>Jobs</h1>
        {config.features["web-submit"] && (
          <button
            type="button"
            class="primary"
            data-testid="open-submit"
            disabled={!canOperate}
            title={canOperate ? "Submit a job" : "Submitting needs operator credentials"}
            onClick={() => setSubmitting(true)}
          >
            Submit job
          </button>
        )}
      </div>
      <div class="filters">
        {FILTERS.map((f) => (
          <button key={f.id} type="button" class={f.id === filter ? "chip active" : "chip"} data-testid={`filter-${f.id}`} onClick={() => setFilter(f.id)}>
            {f.label} ({(jobs.data?.jobs ?? []).filter(f.test).length})
          </button>
        ))}
        <input type="search" placeholder="Filter by name or id" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      </div>
      <ErrorText error={jobs.error} />
      {!jobs.data ? (
        <Loading />
      ) : (
        <table class="table" data-testid="jobs-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th>Started</th>
              <th class="num">Duration</th>
              <th class="num">Parallelism</th>
              <th class="num">Tasks</th>
              <th class="num">Records out/s</th>
            </tr>
          </thead>
          <tbody>
            {list.map((j) => (
              <tr key={j.jid} data-testid={`job-row-${j.jid}`}>
                <td>
                  <a href={href("jobs", j.jid)}>{j.name}</a>
                  <div class="muted small mono">{j.jid}</div>
                </td>
                <td>
                  <StateBadge state={j.state} />
                </td>
                <td>{time(j["start-time"])}</td>
                <td class="num">{duration(j["end-time"] > 0 ? j.duration : now - j["start-time"])}</td>
                <td class="num">{j.parallelism}</td>
                <td class="num">{j.tasks.total === 0 ? "–" : `${j.tasks.running}/${j.tasks.total}`}</td>
                <td class="num">{count(j.metrics.numRecordsOutPerSecond)}</td>
              </tr>
            ))}
            {list.length === 0 && (
              <tr>
                <td colSpan={7} class="muted">
                  No jobs.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {submitting && <SubmitDialog onClose={() => setSubmitting(false)} />}
    </div>
  );
}

/** Base64 of a file's bytes, in slices (a spread of a whole bundle would overflow the call stack). */
function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Splits job arguments as a shell would for the simple cases: whitespace, with '…' and "…" quoting. */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  for (const m of text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) args.push(m[1] ?? m[2] ?? m[3] ?? "");
  return args;
}

/**
 * Submits a job from a file: a job module (.ts, .mts, .tsx) that the JobManager bundles, or a
 * JavaScript module or prebuilt bundle (.js, .mjs) sent as it is. Errors from the API stay in the
 * dialog with their code and message.
 */
function SubmitDialog({ onClose }: { onClose(): void }) {
  const [file, setFile] = useState<File>();
  const [parallelism, setParallelism] = useState("");
  const [args, setArgs] = useState("");
  const [savepoint, setSavepoint] = useState("");
  const [allowNonRestored, setAllowNonRestored] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const { push } = useNotices();

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) {
      setError(new Error("choose a job file first"));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const isBundle = /\.(m?js|cjs)$/i.test(file.name);
      const body: SubmitJobRequest = {
        ...(isBundle
          ? { bundle: base64(new Uint8Array(await file.arrayBuffer())), name: file.name.replace(/\.[^.]+$/, "") }
          : { jobFile: { name: file.name, content: await file.text() } }),
        ...(parallelism.trim() !== "" ? { parallelism: Number(parallelism) } : {}),
        ...(args.trim() !== "" ? { args: splitArgs(args) } : {}),
        ...(savepoint.trim() !== "" ? { savepointPath: savepoint.trim(), allowNonRestoredState: allowNonRestored } : {}),
      };
      const { jobid } = await api<SubmitJobResponse>("POST", "/jobs", body);
      push("ok", `Job ${jobid} submitted`);
      onClose();
      navigate("jobs", jobid);
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };

  return (
    <Modal title="Submit a job" onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Job file
          <input type="file" accept=".ts,.mts,.tsx,.js,.mjs" data-testid="submit-file" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])} />
          <span class="hint">
            A job module (.ts: the JobManager bundles it) or a JavaScript module or bundle (.js, .mjs). Its default export receives the environment.
          </span>
        </label>
        <label>
          Parallelism
          <input
            type="number"
            min="1"
            placeholder="the job's own, or parallelism.default"
            value={parallelism}
            data-testid="submit-parallelism"
            onInput={(e) => setParallelism((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Arguments
          <input
            type="text"
            placeholder="--input data/words.txt --rate 100"
            value={args}
            data-testid="submit-args"
            onInput={(e) => setArgs((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Savepoint to start from
          <input
            type="text"
            placeholder="/path/to/savepoint (optional)"
            value={savepoint}
            onInput={(e) => setSavepoint((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="checkbox">
          <input type="checkbox" checked={allowNonRestored} onChange={(e) => setAllowNonRestored((e.target as HTMLInputElement).checked)} />
          Allow savepoint state of operators the job no longer has (it is dropped)
        </label>
        <ErrorText error={error} />
        <div class="modal-actions">
          <button type="button" onClick={onClose} disabled={busy}>
            Back
          </button>
          <button type="submit" class="primary" disabled={busy} data-testid="submit-confirm">
            {busy ? "Submitting…" : "Submit"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
