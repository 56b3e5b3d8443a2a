import { RiffleError } from "@riffle/shared";
import type { ValueState } from "../state/state.js";
import type { MergingWindowAssigner } from "./assigners.js";
import { TimeWindow } from "./windows.js";

/**
 * Called when windows merge: `mergeResult` replaces `mergedWindows` (which may include it), and the
 * contents of `mergedStateWindows` must be merged into `stateWindowResult`.
 */
export type MergeFunction = (mergeResult: TimeWindow, mergedWindows: TimeWindow[], stateWindowResult: TimeWindow, mergedStateWindows: TimeWindow[]) => void;

interface Entry {
  window: TimeWindow;
  /** The window whose namespace holds the contents: stays put when windows merge, so contents need not move. */
  state: TimeWindow;
}

/**
 * The in-flight windows of one key of a merging (session) assigner, and for each the window whose
 * namespace holds its contents (Flink's MergingWindowSet). When windows merge, the result keeps the
 * state window of one of them and only the others' contents are merged into it, so a session that
 * grows element by element never copies its contents.
 *
 * The mapping lives in keyed state (the key's default namespace, as flat numbers
 * `[start, end, stateStart, stateEnd, ...]`), read for each element and written back by `persist`
 * when it changed: it is checkpointed, restored and rescaled with the key.
 */
export class MergingWindowSet {
  private readonly entries: Entry[] = [];
  private changed = false;

  constructor(
    private readonly assigner: MergingWindowAssigner<unknown>,
    private readonly state: ValueState<number[]>,
  ) {
    const flat = state.value();
    if (flat !== undefined) {
      for (let i = 0; i + 3 < flat.length; i += 4) {
        this.entries.push({ window: new TimeWindow(flat[i]!, flat[i + 1]!), state: new TimeWindow(flat[i + 2]!, flat[i + 3]!) });
      }
    }
  }

  /** Writes the mapping back to state if it changed. */
  persist(): void {
    if (!this.changed) return;
    this.changed = false;
    if (this.entries.length === 0) {
      this.state.clear();
      return;
    }
    const flat: number[] = [];
    for (const e of this.entries) flat.push(e.window.start, e.window.end, e.state.start, e.state.end);
    this.state.update(flat);
  }

  /** The window holding the contents of in-flight `window`, or undefined when it is not in flight. */
  getStateWindow(window: TimeWindow): TimeWindow | undefined {
    return this.find(window)?.state;
  }

  /** Removes a window that was purged or cleaned up. */
  retireWindow(window: TimeWindow): void {
    const i = this.indexOf(window);
    if (i < 0) throw new RiffleError("INTERNAL", `window ${window.toString()} is not in flight`);
    this.entries.splice(i, 1);
    this.changed = true;
  }

  /**
   * Adds a new window and merges it with the in-flight windows it overlaps. Returns the window the new
   * one ended up in (itself, or a merge result); `merge` is called for every merge that changed an
   * in-flight window, before this returns.
   */
  addWindow(newWindow: TimeWindow, merge: MergeFunction): TimeWindow {
    // Already in flight: nothing merges (in-flight windows never overlap each other).
    const existing = this.find(newWindow);
    if (existing !== undefined) return existing.window;

    const groups: { result: TimeWindow; merged: TimeWindow[] }[] = [];
    this.assigner.mergeWindows([...this.entries.map((e) => e.window), newWindow], (merged, result) => groups.push({ result, merged: [...merged] }));

    let resultWindow = newWindow;
    let mergedNewWindow = false;
    for (const { result, merged } of groups) {
      const n = merged.findIndex((w) => w.equals(newWindow));
      if (n >= 0) {
        merged.splice(n, 1);
        mergedNewWindow = true;
        resultWindow = result;
      }
      // A new window inside one in-flight window changes nothing.
      if (merged.length === 1 && merged[0]!.equals(result)) continue;
      // The merge result keeps the state window of one of the merged windows...
      const stateWindow = this.getStateWindow(merged[0]!)!;
      const mergedStateWindows: TimeWindow[] = [];
      for (const w of merged) {
        const i = this.indexOf(w);
        if (i < 0) continue;
        mergedStateWindows.push(this.entries[i]!.state);
        this.entries.splice(i, 1);
      }
      this.entries.push({ window: result, state: stateWindow });
      this.changed = true;
      // ...and the others' contents move into it.
      const s = mergedStateWindows.findIndex((w) => w.equals(stateWindow));
      if (s >= 0) mergedStateWindows.splice(s, 1);
      merge(result, merged, stateWindow, mergedStateWindows);
    }
    if (groups.length === 0 || (resultWindow === newWindow && !mergedNewWindow)) {
      this.entries.push({ window: resultWindow, state: resultWindow });
      this.changed = true;
    }
    return resultWindow;
  }

  private find(window: TimeWindow): Entry | undefined {
    const i = this.indexOf(window);
    return i < 0 ? undefined : this.entries[i];
  }

  private indexOf(window: TimeWindow): number {
    for (let i = 0; i < this.entries.length; i++) if (this.entries[i]!.window.equals(window)) return i;
    return -1;
  }
}
