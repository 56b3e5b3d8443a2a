import type { CheckpointBarrier } from "../network/buffer.js";
import type { InputGate } from "../network/input-gate.js";

/**
 * Aligned barrier handling (Flink's CheckpointBarrierHandler), an explicit state machine:
 *
 *   WAITING_FOR_FIRST_BARRIER ──barrier n──► COLLECTING_BARRIERS(n) ──last barrier n──► aligned(n)
 *            ▲                                   │ barrier m > n: abort n, collect m       │
 *            └─────────── abort(m >= n) ─────────┴───────────── checkpoint taken ──────────┘
 *
 * A channel that delivered barrier n is blocked until every live channel did, so the state
 * snapshot holds exactly the records before barrier n. Channels that already ended count as aligned.
 */
type AlignmentState =
  | { name: "WAITING_FOR_FIRST_BARRIER" }
  | { name: "COLLECTING_BARRIERS"; barrier: CheckpointBarrier; received: Set<string>; startedAt: number };

export type BarrierResult = { aligned: false } | { aligned: true; barrier: CheckpointBarrier; alignmentMs: number };

export class BarrierAligner {
  private state: AlignmentState = { name: "WAITING_FOR_FIRST_BARRIER" };
  /** Highest checkpoint aligned or aborted: older barriers arriving late are dropped. */
  private lastCheckpoint = 0;

  constructor(private readonly gates: readonly InputGate[]) {}

  get currentCheckpoint(): number | undefined {
    return this.state.name === "COLLECTING_BARRIERS" ? this.state.barrier.checkpointId : undefined;
  }

  onBarrier(gate: number, channel: number, barrier: CheckpointBarrier): BarrierResult {
    if (barrier.checkpointId <= this.lastCheckpoint) return { aligned: false };
    if (this.state.name === "COLLECTING_BARRIERS" && barrier.checkpointId > this.state.barrier.checkpointId) {
      // A newer checkpoint overtook the one being aligned: the older one can no longer complete.
      this.abort(this.state.barrier.checkpointId);
    }
    if (this.state.name === "WAITING_FOR_FIRST_BARRIER") {
      this.state = { name: "COLLECTING_BARRIERS", barrier, received: new Set(), startedAt: performance.now() };
    }
    const collecting = this.state as Extract<AlignmentState, { name: "COLLECTING_BARRIERS" }>;
    collecting.received.add(`${gate}/${channel}`);
    this.gates[gate]!.block(channel);
    return this.checkAligned();
  }

  /** A channel ended: if alignment only waited for it, it is complete now. */
  onChannelEnded(): BarrierResult {
    return this.state.name === "COLLECTING_BARRIERS" ? this.checkAligned() : { aligned: false };
  }

  private checkAligned(): BarrierResult {
    if (this.state.name !== "COLLECTING_BARRIERS") return { aligned: false };
    const { received, barrier, startedAt } = this.state;
    for (let g = 0; g < this.gates.length; g++) {
      const gate = this.gates[g]!;
      for (let c = 0; c < gate.channels.length; c++) {
        if (!received.has(`${g}/${c}`) && !gate.isChannelEnded(c)) return { aligned: false };
      }
    }
    this.finish(barrier.checkpointId);
    return { aligned: true, barrier, alignmentMs: performance.now() - startedAt };
  }

  /**
   * Gives up checkpoint `id` (aborted by the JobManager, or overtaken): its channels flow again. An
   * abort of a newer checkpoint ends the alignment of an older one as well: the barriers it still
   * waits for may arrive behind barriers of `id`, which are dropped from now on, so it could only be
   * ended by a later checkpoint, with its channels blocked until then (Flink's
   * processCancellationBarrier aborts for any id >= the current one likewise).
   */
  abort(id: number): void {
    if (this.state.name === "COLLECTING_BARRIERS" && this.state.barrier.checkpointId <= id) this.finish(id);
    this.lastCheckpoint = Math.max(this.lastCheckpoint, id);
  }

  private finish(id: number): void {
    this.state = { name: "WAITING_FOR_FIRST_BARRIER" };
    this.lastCheckpoint = Math.max(this.lastCheckpoint, id);
    for (const g of this.gates) g.unblockAll();
  }
}
