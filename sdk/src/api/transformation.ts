import type { OperatorKind, Partitioner } from "@riffle/shared";

/**
 * What each DataStream call records. Operator transformations become StreamGraph nodes; partition and
 * union transformations are virtual and only shape the edges into the next operator.
 */
export interface Transformation {
  readonly id: number;
  readonly type: "operator" | "partition" | "union" | "feedback";
  name: string;
  uid: string | undefined;
  /** Undefined: the environment's parallelism. */
  parallelism: number | undefined;
  /** Largest parallelism the operator supports (collection sources: 1). */
  parallelismLimit: number | undefined;
  chaining: "default" | "never" | "head";
  readonly inputs: Transformation[];
  readonly operator?: {
    kind: OperatorKind;
    fn: number;
    key?: number;
    aggregate?: { type: "sum" | "min" | "max" | "minBy" | "maxBy"; field: string | number | null };
  };
  readonly partitioner?: Partitioner;
  readonly keySelector?: number;
}
