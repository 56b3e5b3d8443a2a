/**
 * The leader's fencing token: which leadership of a cluster a command or a write was made under.
 * A JobManager attaches it to everything it sends while leading; a TaskManager remembers the newest
 * token it has seen and refuses commands that carry an older one, so a deposed leader that comes back
 * (a paused process, a partitioned host) can do no harm.
 *
 * ```ts
 * const token = fencingToken(1234n, "694d8b1a4c2e3f01"); // election revision, lease id
 * isOlderFencingToken(token, newest);                     // true: refuse the command
 * ```
 *
 * A token is a string `<epoch, 20 decimal digits>-<lease id, 16 hex digits>`. The epoch orders
 * leaderships: with etcd it is the create revision of the leader's election key, which grows with each
 * new leader (a candidate becomes leader only once every key created before its own is gone). Zero
 * padding makes the string order the numeric order, so tokens compare as plain strings, in any process
 * and across the wire. The lease id tells apart two leaderships of equal epoch, which only a single
 * JobManager without high availability has (its epoch comes from its storage directory).
 */

export type FencingToken = string & { readonly __brand: "FencingToken" };

const EPOCH_DIGITS = 20;
const LEASE_DIGITS = 16;
const TOKEN = /^(\d{20})-([0-9a-f]{16})$/;
/** The largest epoch a token can hold: an etcd revision is a signed 64-bit integer. */
const MAX_EPOCH = 2n ** 63n - 1n;

/** The token of leadership `epoch` held under lease `leaseId` (hex, as etcd prints it, or decimal as a bigint). */
export function fencingToken(epoch: bigint, leaseId: string | bigint): FencingToken {
  if (epoch < 0n || epoch > MAX_EPOCH) throw new RangeError(`fencing epoch ${epoch} is out of range`);
  const lease = typeof leaseId === "bigint" ? leaseId : BigInt(`0x${leaseId}`);
  if (lease < 0n || lease >= 2n ** 64n) throw new RangeError(`lease id ${leaseId} is out of range`);
  return `${epoch.toString().padStart(EPOCH_DIGITS, "0")}-${lease.toString(16).padStart(LEASE_DIGITS, "0")}` as FencingToken;
}

/** Checks a token received from elsewhere; throws a RangeError naming it when it is not one. */
export function parseFencingToken(text: string): FencingToken {
  if (!TOKEN.test(text)) throw new RangeError(`"${text}" is not a fencing token (expected <20 digits>-<16 hex digits>)`);
  return text as FencingToken;
}

/** The epoch and lease id a token was made of. */
export function fencingTokenParts(token: FencingToken): { epoch: bigint; leaseId: string } {
  const m = TOKEN.exec(token);
  if (!m) throw new RangeError(`"${token}" is not a fencing token`);
  return { epoch: BigInt(m[1]!), leaseId: m[2]! };
}

/** Negative when `a` is an older leadership than `b`, zero when the same, positive when newer. */
export function compareFencingTokens(a: FencingToken, b: FencingToken): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when `token` belongs to a leadership older than `newest`: a command carrying it must be refused. */
export function isOlderFencingToken(token: FencingToken, newest: FencingToken): boolean {
  return token < newest;
}
