import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster } from "../../../../e2e/harness/etcd.js";
import { LatencyProxy } from "../../../../e2e/harness/latency-proxy.js";
import { CandidateProcess } from "../../testing/ha-candidate-process.js";
import { etcdServices, haSettings, uniqueClusterId, until, untilCandidates } from "../../testing/ha-fixtures.js";
import { RecordingContender } from "../../testing/recording-contender.js";
import type { EtcdHighAvailabilityServices } from "./etcd-high-availability-services.js";
import { EtcdLeaderSession } from "./etcd-leader-election-driver.js";

const JOB = "0123456789abcdef0123456789abcdef";

/** Keeps this thread's event loop busy for `ms`, as a long synchronous computation would. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spinning
  }
}
const TTL_MS = 1_000;
/** A new leader after the old one's lease: etcd checks for expired leases every 500 ms; the rest is the machine's load. */
const FAILOVER_DEADLINE_MS = TTL_MS + 4_000;

describe("leader election on etcd", () => {
  let etcd: EtcdCluster;
  const open: Array<{ close(): Promise<void> }> = [];
  const children: CandidateProcess[] = [];

  beforeAll(async () => {
    etcd = await EtcdCluster.start({ heartbeatMs: 50, electionMs: 500 });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await Promise.all(children.splice(0).map((c) => c.kill()));
  });
  afterAll(() => etcd?.close());

  async function candidate(settings: Record<string, string>, name: string): Promise<{ ha: EtcdHighAvailabilityServices; contender: RecordingContender }> {
    const ha = await etcdServices(settings, name);
    open.push(ha);
    const contender = new RecordingContender(name);
    ha.leaderElection.start(contender);
    return { ha, contender };
  }

  function child(settings: Record<string, string>, name: string): CandidateProcess {
    const c = new CandidateProcess(name, settings);
    children.push(c);
    return c;
  }

  it("elects one of two candidates, and the other as soon as the first resigns, under a newer fencing token", async () => {
    const settings = haSettings(etcd, uniqueClusterId("two"));
    const a = await candidate(settings, "a");
    const first = await a.contender.granted(1, 10_000);
    const b = await candidate(settings, "b");
    await untilCandidates(a.ha, ["a", "b"]);
    expect(b.ha.leaderElection.state).toBe("campaigning");
    expect(b.contender.grants).toHaveLength(0);

    const resignedAt = Date.now();
    await a.ha.close();
    const revoked = await a.contender.revoked(1, 1_000);
    expect(revoked.reason).toBe("RESIGNED");
    expect(revoked.activeDuringCall).toBe(false);
    const second = await b.contender.granted(1, 5_000);
    // A resignation revokes the lease: no TTL to wait for.
    expect(b.contender.grants[0]!.at - resignedAt).toBeLessThan(TTL_MS);
    expect(second.token > first.token).toBe(true);
    expect(await b.ha.leaderElection.candidates()).toEqual(["b"]);
  });

  it("elects the standby once a killed leader's lease has expired", async () => {
    const settings = haSettings(etcd, uniqueClusterId("kill"));
    const leader = child(settings, "leader");
    const granted = await leader.next("granted", 30_000, 0);
    const standby = await candidate(settings, "standby");
    await untilCandidates(standby.ha, ["leader", "standby"]);

    const killedAt = Date.now();
    await leader.kill();
    const session = await standby.contender.granted(1, FAILOVER_DEADLINE_MS);
    const electedAfter = standby.contender.grants[0]!.at - killedAt;
    // Not before the lease could have expired: at the earliest TTL minus the time since the last keep-alive (TTL / 6).
    expect(electedAfter).toBeGreaterThanOrEqual((TTL_MS * 5) / 6 - 50);
    expect(session.token > (granted.token as string)).toBe(true);
  });

  it("refuses the writes of a leader that was paused past its lease, once a standby leads", async () => {
    const settings = haSettings(etcd, uniqueClusterId("pause"));
    const leader = child(settings, "paused");
    await leader.next("granted", 30_000, 0);
    leader.send({ cmd: "increment", jobId: JOB });
    expect((await leader.next("result", 5_000, 0)).value).toBe(1);
    const standby = await candidate(settings, "standby");

    leader.signal("SIGSTOP");
    const session = await standby.contender.granted(1, FAILOVER_DEADLINE_MS);
    const counter = standby.ha.stores(session).checkpointIdCounter(JOB);
    expect(await counter.getAndIncrement()).toBe(2);

    // Read by the paused process as soon as it runs again: before its overdue lease timer has fired.
    const before = leader.events.length;
    leader.send({ cmd: "increment", jobId: JOB });
    leader.signal("SIGCONT");
    const result = await leader.next("result", 5_000, before);
    expect(result).toMatchObject({ ok: false, code: "LEADERSHIP_LOST" });
    expect(await leader.next("revoked", 5_000, 0)).toMatchObject({ reason: "LEASE_NOT_RENEWED" });
    expect(await counter.get()).toBe(3);
    expect(standby.ha.leaderElection.hasLeadership(session)).toBe(true);
  });

  it("revokes a leader whose lease was revoked in etcd, and elects the standby", async () => {
    const settings = haSettings(etcd, uniqueClusterId("revoked"));
    const a = await candidate(settings, "a");
    const session = (await a.contender.granted(1, 10_000)) as EtcdLeaderSession;
    const b = await candidate(settings, "b");
    await untilCandidates(a.ha, ["a", "b"]);

    // An operator (or etcd itself) ends the lease: the key goes, and the leader hears it from its watch.
    await a.ha.connection.client.leaseClient.leaseRevoke({ ID: session.lease.id });
    expect((await a.contender.revoked(1, 2_000)).reason).toBe("ELECTION_KEY_GONE");
    await b.contender.granted(1, 2_000);
    // The old leader campaigns again, behind the new one.
    await untilCandidates(a.ha, ["b", "a"]);
  });

  it("keeps its leadership through a main-thread stall longer than the lease (renewed by its own thread), but not through a stall of 4 TTLs", async () => {
    const settings = haSettings(etcd, uniqueClusterId("stall"));
    const a = await candidate(settings, "a");
    const session = await a.contender.granted(1, 10_000);
    const counter = a.ha.stores(session).checkpointIdCounter(JOB);
    expect(await counter.getAndIncrement()).toBe(1);

    // The JobManager's event loop busy for 1.5 TTLs (on a loaded machine a second is no rarity).
    busy(1.5 * TTL_MS);
    expect(session.isActive()).toBe(true);
    expect(await counter.getAndIncrement()).toBe(2);
    expect(a.contender.revocations).toHaveLength(0);

    // Stuck for good: the keeper stops renewing after 4 TTLs without the main thread, and the lease runs out.
    busy(4 * TTL_MS + 2 * TTL_MS);
    expect(session.isActive()).toBe(false);
    const revoked = await a.contender.revoked(1, 2_000);
    expect(revoked.reason).toBe("LEASE_NOT_RENEWED");
    expect(revoked.detail).toMatch(/the expiry check ran \d+ ms late/);
  });

  it("has etcd refuse a write whose election key is gone, even while the lease still looks valid here", async () => {
    const settings = haSettings(etcd, uniqueClusterId("fenced"));
    const a = await candidate(settings, "a");
    const session = (await a.contender.granted(1, 10_000)) as EtcdLeaderSession;
    // The same lease and key, but the revision of a key that no longer exists (a deposed leadership of this process).
    const deposed = new EtcdLeaderSession(session.token, session.grantedAt, session.electionKey, "1", session.lease);
    expect(deposed.isActive()).toBe(true);
    const write = a.ha.stores(deposed).checkpointIdCounter(JOB).setCount(7);
    await expect(write).rejects.toMatchObject({ code: "LEADERSHIP_LOST", message: expect.stringMatching(/^etcd refused to set the checkpoint id counter/) });
    expect(deposed.isActive()).toBe(false);
    // The real leadership is untouched, and so is the counter.
    expect(a.ha.leaderElection.hasLeadership(session)).toBe(true);
    expect(await a.ha.stores(session).checkpointIdCounter(JOB).get()).toBe(1);
  });
});

describe("leader election when etcd fails", () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  async function leaderOn(etcd: EtcdCluster, extra: Record<string, string> = {}) {
    const ha = await etcdServices(haSettings(etcd, uniqueClusterId("fail"), extra), "leader");
    open.push(ha, etcd);
    const contender = new RecordingContender("leader");
    ha.leaderElection.start(contender);
    return { ha, contender, session: await contender.granted(1, 10_000) };
  }

  it("steps down before its lease can expire when etcd stops answering, and leads again once it answers", async () => {
    const etcd = await EtcdCluster.start({ heartbeatMs: 50, electionMs: 500 });
    const { contender, session } = await leaderOn(etcd);
    const pausedAt = Date.now();
    etcd.members[0]!.pause();
    const revoked = await contender.revoked(1, 3_000);
    expect(revoked.reason).toBe("LEASE_NOT_RENEWED");
    // Before etcd could let the lease expire: the last renewal was sent before the pause.
    expect(revoked.at - pausedAt).toBeLessThan(TTL_MS);
    etcd.members[0]!.resume();
    const again = await contender.granted(2, 10_000);
    expect(again.token > session.token).toBe(true);
  });

  it("keeps its leadership while etcd answers keep-alives later than the call timeout, and steps down only when later than its lease allows", async () => {
    // A slow etcd (a loaded machine, a slow disk), not a stopped one: every answer comes, but late.
    const etcd = await EtcdCluster.start({ heartbeatMs: 50, electionMs: 500 });
    const proxy = await LatencyProxy.start(etcd.members[0]!.clientPort);
    open.push(proxy);
    const ttlMs = 2_000;
    const { ha, contender, session } = await leaderOn(etcd, {
      "high-availability.etcd.endpoints": proxy.url,
      "high-availability.etcd.lease-ttl": `${ttlMs}ms`,
      "high-availability.etcd.call-timeout": "400ms",
    });

    // Well over the call timeout (and over what keep-alives sent one after the other survived, about a
    // third of the TTL): a keep-alive answered then still renews the lease from when it was sent, and
    // the next ones went out meanwhile. Held for three TTLs.
    proxy.roundTripMs = 700;
    const slowFrom = Date.now();
    await until(() => (ha.leaseStatus()?.lastRenewedAt ?? 0) > slowFrom + 3 * ttlMs, 6 * ttlMs, "renewed through the slow answers");
    expect(contender.revocations).toHaveLength(0);
    expect(ha.leaderElection.hasLeadership(session)).toBe(true);

    // Answers later than five sixths of the TTL after their keep-alive: no longer a lease to count on.
    proxy.roundTripMs = 2_500;
    const revoked = await contender.revoked(1, 3 * ttlMs);
    expect(revoked.reason).toBe("LEASE_NOT_RENEWED");
    expect(revoked.detail).toMatch(/keep-alive\(s\) unanswered, the oldest sent \d+ ms ago/);
  });

  it("steps down when etcd is stopped for longer than the lease, and leads again when it is started", async () => {
    const etcd = await EtcdCluster.start({ heartbeatMs: 50, electionMs: 500 });
    const { contender } = await leaderOn(etcd);
    await etcd.members[0]!.stop();
    expect((await contender.revoked(1, 3_000)).reason).toBe("LEASE_NOT_RENEWED");
    const errors = contender.events.length;
    await contender.waitFor((e) => e.type === "error" && contender.events.indexOf(e) >= errors, 5_000, "campaign error");
    expect(contender.events.find((e) => e.type === "error")).toMatchObject({
      error: { code: "HA_UNAVAILABLE", message: expect.stringContaining(etcd.endpoints[0]!) },
    });
    const restartedAt = Date.now();
    await etcd.members[0]!.start();
    await contender.granted(2, 10_000);
    // The lease given up while etcd was down is revoked at once: no waiting out its TTL.
    expect(contender.grants[1]!.at - restartedAt).toBeLessThan(5_000);
  });

  it("leads and writes again within seconds when a 3-member etcd loses its raft leader", async () => {
    // etcd's default raft timing (election timeout 1 s) and the default lease TTL.
    const etcd = await EtcdCluster.start({ members: 3 });
    const { ha, contender, session } = await leaderOn(etcd, { "high-availability.etcd.lease-ttl": "2s", "high-availability.etcd.call-timeout": "1s" });
    expect(await ha.stores(session).checkpointIdCounter(JOB).getAndIncrement()).toBe(1);
    const raftLeader = await etcd.leader();
    await raftLeader.kill();
    // While raft elects, renewals and writes fail. The leader rides that out, or, when its lease went
    // unrenewed for 5/6 of the TTL (a raft election takes 1-2 s), steps down and is elected again.
    // Either way a write under its current leadership succeeds within seconds.
    const deadline = Date.now() + 15_000;
    let id: number | undefined;
    while (id === undefined) {
      const grants = contender.grants.length;
      const current = contender.grants[grants - 1]!.session;
      try {
        id = await ha.stores(current).checkpointIdCounter(JOB).getAndIncrement();
      } catch (err) {
        const code = (err as { code?: string }).code;
        expect(["HA_UNAVAILABLE", "LEADERSHIP_LOST"]).toContain(code);
        if (Date.now() > deadline) throw err;
        if (code === "LEADERSHIP_LOST") await contender.granted(grants + 1, deadline - Date.now());
      }
    }
    expect(id).toBeGreaterThanOrEqual(2);
    expect(contender.revocations.every((r) => r.reason === "LEASE_NOT_RENEWED")).toBe(true);
    const tokens = contender.grants.map((g) => g.session.token);
    expect([...tokens].sort()).toEqual(tokens);
    if (contender.revocations.length > 0) {
      await expect(ha.stores(session).checkpointIdCounter(JOB).setCount(1)).rejects.toMatchObject({ code: "LEADERSHIP_LOST" });
    }
    expect(await etcd.leader()).not.toBe(raftLeader);
  });
});
