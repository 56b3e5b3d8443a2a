/** How the dashboard writes numbers, times and durations. */

const UNITS = ["", "k", "M", "G", "T"];

/** 1234 → "1.23k", 12_345_678 → "12.3M". */
export function count(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  const digits = u === 0 ? (Number.isInteger(v) ? 0 : v < 10 ? 1 : 0) : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${n < 0 ? "-" : ""}${v.toFixed(digits)}${UNITS[u]}`;
}

export function rate(n: number | undefined): string {
  return `${count(n)}/s`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : v < 10 ? 1 : 0)} ${units[u]}`;
}

/** Milliseconds as "950 ms", "12.3 s", "4m 05s", "3h 02m", "2d 4h". */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Epoch ms as local date and time; "–" for the -1 of things that have not happened. */
export function time(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || ms <= 0) return "–";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Riffle's "no watermark yet" (-(2^53 − 1)) and the end of event time (2^53 − 1). */
export function watermark(value: string | number | undefined): string {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n <= Number.MIN_SAFE_INTEGER) return "none";
  if (n >= Number.MAX_SAFE_INTEGER) return "end of time";
  return time(n);
}

export function percent(fraction: number | undefined): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return "–";
  return `${Math.round(fraction * 100)}%`;
}
