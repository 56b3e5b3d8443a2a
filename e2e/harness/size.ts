/**
 * The size of the suites that have a long tier. `npm test` runs their short size: the same
 * assertions on fewer records, kills or seconds, so that every capability keeps its coverage there.
 * `npm run test:long` (RIFFLE_TEST_SIZE=long) runs them at full size, and the cases only that size
 * has. Read here and nowhere else, so that one variable selects both the cases and their sizes.
 */
export type TestSize = "short" | "long";

function parseSize(value: string | undefined): TestSize {
  if (value === undefined || value === "" || value === "short") return "short";
  if (value === "long") return "long";
  throw new Error(`RIFFLE_TEST_SIZE is "${value}": set it to "short" (the default, what npm test runs) or "long" (npm run test:long)`);
}

export const TEST_SIZE: TestSize = parseSize(process.env.RIFFLE_TEST_SIZE);

/** True under `npm run test:long`: for cases only the long tier runs (`it.runIf(LONG)`). */
export const LONG = TEST_SIZE === "long";

/** The value for this run's size. */
export function bySize<T>(sizes: Record<TestSize, T>): T {
  return sizes[TEST_SIZE];
}
