/**
 * The lease keeper's worker thread: it keeps the etcd leases the main thread hands it alive (one
 * LeaseRenewal each, over an etcd connection of its own) and writes each renewal into the memory it
 * shares with the main thread, so a JobManager whose main event loop is busy for a while still renews
 * on time. It stops renewing once the main thread has not beaten for MAIN_STALL_TTLS lease TTLs: a
 * JobManager stuck for good must not keep its leadership.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SystemClock, createLogger } from "@riffle/shared";
import { EtcdConnection } from "./etcd-connection.js";
import {
  EXPIRES_AT,
  type FromLeaseKeeper,
  type LeaseKeeperInit,
  MAIN_BEAT,
  MAIN_STALL_TTLS,
  OLDEST_UNANSWERED,
  type ToLeaseKeeper,
  monotonicMs,
} from "./lease-keeper-protocol.js";
import { LeaseRenewal } from "./lease-renewal.js";

const port = parentPort;
if (!port) throw new Error("the lease keeper runs only as a worker thread");
const init = workerData as LeaseKeeperInit;
const logger = createLogger("lease-keeper");
logger.level = "silent"; // failures go to the main thread, which logs them
const conn = new EtcdConnection({ endpoints: init.endpoints, clusterId: init.clusterId, callTimeoutMs: init.callTimeoutMs, logger });
const beat = new BigInt64Array(init.beat);
const renewals = new Map<string, LeaseRenewal>();
/** The system's timers, with lease times on the monotonic clock. */
const clock = { now: monotonicMs, schedule: SystemClock.schedule };
const post = (msg: FromLeaseKeeper) => port.postMessage(msg);

port.on("message", (msg: ToLeaseKeeper) => {
  switch (msg.type) {
    case "keep": {
      const cells = new BigInt64Array(msg.cells);
      const stallLimitMs = msg.ttlMs * MAIN_STALL_TTLS;
      const { id } = msg;
      const renewal = new LeaseRenewal(
        conn,
        id,
        msg.ttlMs,
        msg.renewedAt,
        clock,
        {
          renewed: (expiresAt) => Atomics.store(cells, EXPIRES_AT, BigInt(Math.floor(expiresAt))),
          unanswered: (oldest) => Atomics.store(cells, OLDEST_UNANSWERED, BigInt(Math.floor(oldest ?? 0))),
          expired: () => {
            renewals.delete(id);
            post({ type: "expired", id });
          },
          failed: (message, first) => post({ type: "failed", id, message, first }),
          recovered: () => post({ type: "recovered", id }),
        },
        () => monotonicMs() - Number(Atomics.load(beat, MAIN_BEAT)) <= stallLimitMs,
      );
      renewals.set(id, renewal);
      break;
    }
    case "drop":
      renewals.get(msg.id)?.stop();
      renewals.delete(msg.id);
      break;
    case "close":
      for (const r of renewals.values()) r.stop();
      renewals.clear();
      conn.close();
      port.close();
      break;
  }
});
// Connected before the first lease comes: a keep-alive on a connection still being set up takes a
// round trip more. An etcd out of reach is no failure here: the keep-alives will say so.
conn.check().then(
  () => post({ type: "ready" }),
  () => post({ type: "ready" }),
);
