import type { TestCluster } from "./cluster.js";

export interface KillSchedule {
  /** How many TaskManagers to kill, one after the other. */
  kills: number;
  /** Seeded random numbers in [0, 1): which TaskManager dies, and when. */
  random: () => number;
  /** After the job is RUNNING again, wait `minMs + random() * spanMs` before the next kill. */
  minMs: number;
  spanMs: number;
  /** Runs once the job is RUNNING again, before the pause (e.g. wait for a checkpoint of this attempt). */
  beforeKill?: () => Promise<unknown>;
  /** Start each replacement without waiting for it, so it comes up while the job recovers. */
  replaceInBackground?: boolean;
}

/**
 * Kills a random live TaskManager with SIGKILL `kills` times while the job runs, each time after the
 * job restarted from the previous kill, and starts a replacement after each. A kill may cost more than
 * one restart (a redeploy to the dead TaskManager before its loss is noticed fails too), so each round
 * waits for the count to grow past what it was at the kill, not for an exact value.
 */
export async function killTaskManagers(cluster: TestCluster, jobId: string, schedule: KillSchedule): Promise<void> {
  let restartsAtKill = -1;
  const replacements: Promise<unknown>[] = [];
  for (let kill = 0; kill < schedule.kills; kill++) {
    const running = await cluster.waitForJob(jobId, (j) => j.state === "RUNNING" && j.numRestarts > restartsAtKill, 60_000);
    restartsAtKill = running.numRestarts;
    await schedule.beforeKill?.();
    await new Promise((r) => setTimeout(r, schedule.minMs + Math.floor(schedule.random() * schedule.spanMs)));
    const alive = cluster.taskmanagers.filter((t) => !t.hasExited);
    const victim = alive[Math.floor(schedule.random() * alive.length)]!;
    victim.kill("SIGKILL");
    await victim.exited;
    const replacement = cluster.addTaskManager();
    if (schedule.replaceInBackground) replacements.push(replacement);
    else await replacement;
  }
  await Promise.all(replacements);
}
