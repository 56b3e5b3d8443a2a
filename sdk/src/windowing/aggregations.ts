/** The field aggregations of windowed streams (Flink's SumAggregator and ComparableAggregator). */
export type WindowAggregation = "sum" | "min" | "max" | "minBy" | "maxBy";

/**
 * A reduce function for `type` over `field` (the record itself when undefined): `sum`/`min`/`max`
 * update that field of the window's first element (a copy); `minBy`/`maxBy` keep the whole element
 * with the extreme value, the first one on ties.
 */
export function aggregationReducer(type: WindowAggregation, field: string | number | undefined): (a: unknown, b: unknown) => unknown {
  const read = (record: unknown): number => {
    const v = field === undefined ? record : (record as Record<string | number, unknown> | null)?.[field];
    if (typeof v !== "number") throw new Error(`${type}(${field ?? ""}) needs a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const write = (acc: unknown, value: number): unknown => {
    if (field === undefined) return value;
    if (Array.isArray(acc)) {
      const copy = acc.slice();
      copy[field as number] = value;
      return copy;
    }
    return { ...(acc as Record<string | number, unknown>), [field]: value };
  };
  switch (type) {
    case "sum":
      return (a, b) => write(a, read(a) + read(b));
    case "min":
      return (a, b) => {
        const v = read(b);
        return v < read(a) ? write(a, v) : a;
      };
    case "max":
      return (a, b) => {
        const v = read(b);
        return v > read(a) ? write(a, v) : a;
      };
    case "minBy":
      return (a, b) => (read(b) < read(a) ? b : a);
    case "maxBy":
      return (a, b) => (read(b) > read(a) ? b : a);
  }
}
