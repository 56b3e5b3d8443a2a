/** CPU time of every thread of a process, read from /proc (Linux): for the bench/dev tools. */
import { readFileSync, readdirSync } from "node:fs";

/** Nanoseconds per clock tick of /proc's times (USER_HZ). */
export const TICK_NS = 1e9 / 100;

/** Per thread id: the kernel's thread name (`comm`, "(main)" added for the main thread), user + system ticks, and system ticks. */
export function threadTicks(pid: number): Map<string, { name: string; ticks: number; sys: number }> {
  const out = new Map<string, { name: string; ticks: number; sys: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      out.set(tid, { name: tid === String(pid) ? `${name} (main)` : name, ticks: Number(fields[11]) + Number(fields[12]), sys: Number(fields[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** Ticks of all threads of the processes together. */
export function processTicks(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) for (const t of threadTicks(pid).values()) n += t.ticks;
  return n;
}
