import { RiffleError } from "@riffle/shared";
import type { ListState } from "@riffle/sdk";
import type { ResolvedTtl } from "@riffle/sdk/internal";
import type { StateCells } from "./cells.js";
import { type Stamped, isExpired, refreshesOnRead } from "./ttl.js";

/**
 * A keyed list, stored as one array per key and namespace (with a TTL, an array of `[element,
 * stamp]`, each element expiring on its own as in Flink). One value per key keeps a LevelDB read to
 * one get; lists that grow without bound per key are better modelled as map state.
 */
export class KeyedListState<T> implements ListState<T> {
  constructor(
    private readonly cells: StateCells,
    private readonly id: number,
    private readonly ttl: ResolvedTtl | undefined,
    private readonly name: string,
  ) {}

  get(): T[] {
    const stored = this.cells.readCell(this.id) as unknown[] | undefined;
    if (stored === undefined) return [];
    if (this.ttl === undefined) return (stored as T[]).slice();
    const now = this.cells.clock();
    const live = (stored as Stamped<T>[]).filter(([, stamp]) => !isExpired(stamp, this.ttl!, now));
    if (live.length === 0) this.cells.writeCell(this.id, undefined);
    else if (refreshesOnRead(this.ttl))
      this.cells.writeCell(
        this.id,
        live.map(([v]) => [v, now] satisfies Stamped<T>),
      );
    else if (live.length !== stored.length) this.cells.writeCell(this.id, live);
    return live.map(([v]) => v);
  }

  add(value: T): void {
    this.check(value);
    const element = this.wrap(value);
    const list = this.cells.updateCell(this.id) as unknown[] | undefined;
    if (list === undefined) this.cells.writeCell(this.id, [element]);
    else list.push(element);
  }

  addAll(values: readonly T[]): void {
    if (values.length === 0) return;
    for (const v of values) this.check(v);
    const elements = values.map((v) => this.wrap(v));
    const list = this.cells.updateCell(this.id) as unknown[] | undefined;
    if (list === undefined) this.cells.writeCell(this.id, elements);
    else for (const e of elements) list.push(e);
  }

  update(values: readonly T[]): void {
    for (const v of values) this.check(v);
    this.cells.writeCell(this.id, values.length === 0 ? undefined : values.map((v) => this.wrap(v)));
  }

  clear(): void {
    this.cells.writeCell(this.id, undefined);
  }

  private wrap(value: T): unknown {
    return this.ttl === undefined ? value : ([value, this.cells.clock()] satisfies Stamped<T>);
  }

  private check(value: T): void {
    if (value === undefined) throw new RiffleError("STATE_INVALID_ARGUMENT", `list state '${this.name}': cannot add undefined`);
  }
}
