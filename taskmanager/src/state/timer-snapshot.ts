import { type KeyGroupRange, RiffleError } from "@riffle/shared";
import type { TimerHeap, TimerHeapCapture } from "@riffle/sdk/internal";

/** Items per timer in a timer frame's payload: queue id, timestamp, key, namespace. */
export const TIMER_ITEMS = 4;

/**
 * The timer queues of a keyed backend as of a snapshot's capture, written with its keyed state.
 *
 * The capture ({@link capture}, synchronous) only copies each queue's heap array. The rest happens in
 * the asynchronous part, where the snapshot writer asks for one key group at a time: the first request
 * sorts the copies into key groups (one pass, no encoding), and the writer encodes each group's
 * timers into frames of that key group, so a restore at any parallelism reads only its own.
 */
export class TimerSnapshot {
  /** Per key group (index from the range's start): flat [queueId, timestamp, key, namespace, ...]. */
  private groups: (unknown[] | undefined)[] | undefined;

  private constructor(
    /** Queue names; a queue's id in the file is its index here. */
    readonly names: readonly string[],
    private readonly captures: readonly TimerHeapCapture[],
    private readonly range: KeyGroupRange,
  ) {}

  /** The synchronous part: a shallow copy of every queue's heap (see TimerHeap#capture). */
  static capture(queues: ReadonlyMap<string, TimerHeap>, range: KeyGroupRange): TimerSnapshot {
    const names: string[] = [];
    const captures: TimerHeapCapture[] = [];
    for (const [name, queue] of queues) {
      names.push(name);
      captures.push(queue.capture());
    }
    return new TimerSnapshot(names, captures, range);
  }

  /** The timers of `keyGroup` (flat, see {@link TIMER_ITEMS}), once: undefined when it has none or was taken. */
  takeGroup(keyGroup: number): unknown[] | undefined {
    this.groups ??= this.byKeyGroup();
    const index = keyGroup - this.range.start;
    const group = this.groups[index];
    this.groups[index] = undefined;
    return group;
  }

  private byKeyGroup(): (unknown[] | undefined)[] {
    const { start, end } = this.range;
    const groups = new Array<unknown[] | undefined>(end - start + 1);
    for (let id = 0; id < this.captures.length; id++) {
      this.captures[id]!.forEach((t) => {
        if (t.keyGroup < start || t.keyGroup > end) {
          throw new RiffleError("INTERNAL", `timer ${t.timestamp} of key group ${t.keyGroup} is outside this backend's key groups [${start}, ${end}]`);
        }
        (groups[t.keyGroup - start] ??= []).push(id, t.timestamp, t.key, t.namespace);
      });
    }
    return groups;
  }
}
