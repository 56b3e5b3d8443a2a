import { RiffleError } from "@riffle/shared";
import type { ListState, OperatorStateMode } from "@riffle/sdk";

/** A list of operator state: a plain array of the subtask. */
export class OperatorListState<T> implements ListState<T> {
  elements: T[] = [];

  constructor(
    readonly name: string,
    readonly mode: OperatorStateMode,
  ) {}

  get(): T[] {
    return this.elements.slice();
  }

  add(value: T): void {
    this.check(value);
    this.elements.push(value);
  }

  addAll(values: readonly T[]): void {
    for (const v of values) this.check(v);
    for (const v of values) this.elements.push(v);
  }

  update(values: readonly T[]): void {
    for (const v of values) this.check(v);
    this.elements = values.slice();
  }

  clear(): void {
    this.elements = [];
  }

  private check(value: T): void {
    if (value === undefined) throw new RiffleError("STATE_INVALID_ARGUMENT", `operator list state '${this.name}': cannot add undefined`);
  }
}
