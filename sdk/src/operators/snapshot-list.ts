import { RiffleError } from "@riffle/shared";

/**
 * What a connector's `snapshotState` returned (a source reader's positions, a sink writer's state),
 * checked before it goes into operator list state: a wrong return value fails the checkpoint with a
 * message naming the connector, not with a TypeError from deep inside the state backend. Nothing
 * (no hook, or undefined) is an empty list, so state left by an earlier version of the connector is
 * not carried on.
 */
export function snapshotList(owner: string, values: unknown): unknown[] {
  if (values === undefined || values === null) return [];
  if (!Array.isArray(values)) {
    throw new RiffleError("STATE_INVALID_ARGUMENT", `${owner}.snapshotState() must return an array of plain values, not ${typeof values}`);
  }
  return values;
}
