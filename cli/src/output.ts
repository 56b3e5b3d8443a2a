import { once } from "node:events";

/** Writes to a stream and waits for it to drain when its buffer is full (a slow pipe or terminal). */
export async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text.length === 0) return;
  if (!stream.write(text)) await once(stream, "drain");
}

/** Resolves once everything written so far to stdout and stderr has been handed to the OS. */
export async function flushStdio(): Promise<void> {
  const open = [process.stdout, process.stderr].filter((s) => !s.destroyed && !s.writableEnded);
  await Promise.all(
    open.map(
      (s) =>
        new Promise<void>((resolve) => {
          // A reader that went away (EPIPE) must not turn the final flush into a crash.
          s.once("error", () => resolve());
          s.write("", () => resolve());
        }),
    ),
  );
}

/** One record of a job's output: strings as they are, everything else as JSON. */
export function formatRecord(record: unknown): string {
  if (typeof record === "string") return record;
  if (record === undefined) return "undefined";
  try {
    return JSON.stringify(record) ?? String(record);
  } catch {
    return String(record);
  }
}

/** `12 ms`, `4.2 s`, `3 m 05 s`, `2 h 10 m`; `-` for a missing duration. */
export function formatDuration(ms: number | null | undefined): string {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.floor(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, "0")} m` : `${m} m ${String(s).padStart(2, "0")} s`;
}

/** Local time `YYYY-MM-DD HH:MM:SS` of an epoch-millisecond timestamp; `-` when there is none. */
export function formatTime(epochMs: number | null | undefined): string {
  if (typeof epochMs !== "number" || !Number.isFinite(epochMs) || epochMs <= 0) return "-";
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A count with thousands separators, or `-`. */
export function formatCount(n: number | null | undefined): string {
  return typeof n === "number" && Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-";
}

export interface Column {
  header: string;
  /** Right-align the column (numbers). */
  right?: boolean;
}

/** A plain-text table: a header row, then one row per entry, columns separated by two spaces. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const width = widths[i] ?? 0;
        return c.right ? cell.padStart(width) : i === columns.length - 1 ? cell : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...rows.map(line)].join("\n")}\n`;
}
