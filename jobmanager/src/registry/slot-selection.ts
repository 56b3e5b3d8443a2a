export interface SlotCandidate {
  taskmanagerId: string;
  freeSlots: number;
}

/**
 * Picks `needed` slots spread over TaskManagers: round-robin over the TaskManagers ordered by most
 * free slots (ties by id, so the choice is reproducible). Spreading first keeps one busy Node event
 * loop from hosting every subtask while another process idles: a parallelism-2 job on two 1-slot
 * TaskManagers uses both, and on a 2-slot and a 1-slot TaskManager takes one slot from each.
 *
 * Returns the TaskManager id of each picked slot in job-slot order, or undefined when fewer than
 * `needed` slots are free.
 */
export function selectSlots(candidates: readonly SlotCandidate[], needed: number): string[] | undefined {
  const free = candidates.reduce((sum, c) => sum + Math.max(0, c.freeSlots), 0);
  if (needed > free) return undefined;
  const order = candidates
    .filter((c) => c.freeSlots > 0)
    .sort((a, b) => b.freeSlots - a.freeSlots || (a.taskmanagerId < b.taskmanagerId ? -1 : a.taskmanagerId > b.taskmanagerId ? 1 : 0));
  const left = order.map((c) => c.freeSlots);
  const picks: string[] = [];
  while (picks.length < needed) {
    for (let i = 0; i < order.length && picks.length < needed; i++) {
      if (left[i]! === 0) continue;
      left[i]!--;
      picks.push(order[i]!.taskmanagerId);
    }
  }
  return picks;
}
