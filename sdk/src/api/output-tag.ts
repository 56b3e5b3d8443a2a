import { RiffleError } from "@riffle/shared";

/**
 * Names a side output of a process function (Flink's OutputTag): `ctx.output(tag, value)` emits into
 * it, and `stream.getSideOutput(tag)` is the stream of those values. Tags are equal when their ids are.
 *
 * ```ts
 * const late = new OutputTag<Click>("late-clicks");
 * const counts = clicks.keyBy(c => c.user).window(...).sideOutputLateData(late).aggregate(...);
 * counts.getSideOutput(late).print();
 * ```
 */
export class OutputTag<T> {
  /** Never set: carries the element type for TypeScript. */
  declare readonly _type?: T;

  constructor(readonly id: string) {
    if (typeof id !== "string" || id.length === 0) throw new RiffleError("JOB_INVALID_GRAPH", "an OutputTag needs a non-empty id");
  }
}
