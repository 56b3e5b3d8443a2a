import type { OperatorKind, Partitioner } from "@riffle/shared";

/**
 * What each DataStream call records. Operator transformations become StreamGraph nodes; partition and
 * union transformations are virtual and only shape the edges into the next operator.
 */
export interface Transformation {
  readonly id: number;
  readonly type: "operator" | "partition" | "union" | "feedback" | "sideOutput";
  name: string;
  uid: string | undefined;
  /** Undefined: the environment's parallelism. */
  parallelism: number | undefined;
  /** Largest parallelism the operator supports (collection sources: 1). */
  parallelismLimit: number | undefined;
  chaining: "default" | "never" | "head";
  readonly inputs: Transformation[];
  /** For two-input operators: which input (1 or 2) each entry of `inputs` feeds. */
  readonly inputTypes?: (1 | 2)[];
  readonly operator?: {
    kind: OperatorKind;
    fn: number;
    key?: number;
    keyed?: boolean;
    watermarks?: number;
    aggregate?: { type: "sum" | "min" | "max" | "minBy" | "maxBy"; field: string | number | null };
  };
  readonly partitioner?: Partitioner;
  readonly keySelector?: number;
  /** For sideOutput transformations: the OutputTag id selected from the input operator. */
  readonly tag?: string;
}
