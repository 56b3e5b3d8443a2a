/**
 * Benchmark — leader election on etcd alone (issue 10): how long a standby JobManager waits to lead
 * after the leader died, without anything else of a failover (no jobs, no TaskManagers). The
 * end-to-end failover benchmark prints its rows beside these.
 *
 * One etcd member (Debian's etcd-server, etcd's default raft timing) and leader candidates in
 * processes of their own (jobmanager/src/testing/ha-candidate.ts: the real HA services with the
 * default configuration, so the default lease TTL). Each round:
 *   - kill: with a standby waiting (its election key in etcd), SIGKILL the leader, and time from the
 *     kill to the standby's grant (the standby's clock, the same machine's). The leader's lease has to
 *     expire in etcd: between TTL − TTL/6 and TTL after the kill (the last keep-alive went out up to a
 *     sixth of the TTL before), plus up to 500 ms until etcd's next expiry check.
 *   - resign (baseline): with a new standby waiting, the leader resigns (closes its HA services,
 *     which revokes its lease), timed from the command to the standby's grant: the election without
 *     a lease to wait out.
 * The rounds run once on the machine as it is (the load average says how idle it was), then again with two busy processes (a spinning loop
 * each, one per core) competing with etcd and the candidates: the "loaded 2-core machine" the
 * default TTL was chosen for (docs/decisions/0009-ha-lease-ttl.md). Through both phases one more
 * candidate leads a cluster of its own and is never killed: a leader that steps down anyway lost its
 * lease to the load alone, and the count of such step-downs is reported as a parameter.
 *
 * Then a 3-member etcd loses its raft leader (SIGKILL) under a leader of the same lease TTL, in
 * process, 5 times: timed from the kill to the leader's next successful write (a checkpoint id taken
 * under its leadership, the one it had or, when it had to step down because raft took longer than
 * its lease allows, the one it won again), beside the time until the surviving members agree on a
 * new raft leader. How often the leader stepped down is a parameter.
 *
 * The lease TTL and call timeout are the configuration's (defaults, or RIFFLE_HIGH_AVAILABILITY_ETCD_LEASE_TTL
 * and RIFFLE_HIGH_AVAILABILITY_ETCD_CALL_TIMEOUT to try others).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@riffle/shared";
import { EtcdCluster } from "../e2e/harness/etcd.js";
import { CandidateProcess } from "../jobmanager/src/testing/ha-candidate-process.js";
import { etcdServices, untilCandidates } from "../jobmanager/src/testing/ha-fixtures.js";
import { RecordingContender } from "../jobmanager/src/testing/recording-contender.js";
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { median } from "./stats.js";

const ROUNDS = 10;
const RAFT_TRIALS = 5;
const JOB = "0123456789abcdef0123456789abcdef";
/** Far above any expected election: a round that takes this long is a failure, not a sample. */
const ROUND_DEADLINE_MS = 30_000;

interface Samples {
  kill: number[];
  resign: number[];
}

async function measure(settings: Record<string, string>, rounds: number, ctx: BenchmarkContext, label: string): Promise<Samples> {
  const observer = await etcdServices(settings, "observer");
  const samples: Samples = { kill: [], resign: [] };
  let n = 0;
  const candidate = () => new CandidateProcess(`${label}-${n++}`, settings);
  let leader = candidate();
  try {
    await leader.next("granted", ROUND_DEADLINE_MS, 0);
    for (let round = 0; round < rounds; round++) {
      let standby = candidate();
      await untilCandidates(observer, [leader.leaderId, standby.leaderId], ROUND_DEADLINE_MS);
      const killedAt = Date.now();
      leader.signal("SIGKILL");
      samples.kill.push((await standby.next("granted", ROUND_DEADLINE_MS, 0)).at - killedAt);
      await leader.exited;
      leader = standby;

      standby = candidate();
      await untilCandidates(observer, [leader.leaderId, standby.leaderId], ROUND_DEADLINE_MS);
      const resignedAt = Date.now();
      leader.send({ cmd: "close" });
      samples.resign.push((await standby.next("granted", ROUND_DEADLINE_MS, 0)).at - resignedAt);
      await leader.exited;
      leader = standby;
      ctx.log(`${label} round ${round + 1}: kill → elected ${samples.kill.at(-1)} ms, resign → elected ${samples.resign.at(-1)} ms`);
    }
    return samples;
  } finally {
    await leader.kill();
    await observer.close();
  }
}

interface RaftTrial {
  killToWriteMs: number;
  killToRaftLeaderMs: number;
  steppedDown: boolean;
}

/** A leader on a 3-member etcd whose raft leader is killed: how long until the leader writes again. */
async function raftLeaderLoss(settings: (etcd: EtcdCluster) => Record<string, string>, trial: number): Promise<RaftTrial> {
  const etcd = await EtcdCluster.start({ members: 3 });
  const ha = await etcdServices(settings(etcd), "raft-trial");
  try {
    const contender = new RecordingContender("raft-trial");
    ha.leaderElection.start(contender);
    const first = await contender.granted(1, ROUND_DEADLINE_MS);
    await ha.stores(first).checkpointIdCounter(JOB).getAndIncrement();
    // Kill at different points of the keep-alive cycle from one trial to the next.
    await new Promise((resolve) => setTimeout(resolve, 300 + trial * 137));
    const raftLeader = await etcd.leader();
    const killedAt = Date.now();
    await raftLeader.kill();
    const raftAgain = etcd.leader(ROUND_DEADLINE_MS).then(() => Date.now() - killedAt);
    const deadline = killedAt + ROUND_DEADLINE_MS;
    for (;;) {
      const grants = contender.grants.length;
      try {
        await ha
          .stores(contender.grants[grants - 1]!.session)
          .checkpointIdCounter(JOB)
          .getAndIncrement();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        if ((err as { code?: string }).code === "LEADERSHIP_LOST") await contender.granted(grants + 1, deadline - Date.now());
      }
    }
    return { killToWriteMs: Date.now() - killedAt, killToRaftLeaderMs: await raftAgain, steppedDown: contender.revocations.length > 0 };
  } finally {
    await ha.close();
    await etcd.close();
  }
}

/** Two processes spinning on the CPU until stopped: the load of a busy machine. */
function busyLoops(): ChildProcess[] {
  return [0, 1].map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
}

export const haElection: Benchmark = {
  name: "ha-election",
  results: "ha",
  async run(ctx: BenchmarkContext): Promise<Measured[]> {
    const rounds = ctx.quick ? 2 : Math.max(ROUNDS, ctx.runs);
    const config = loadConfig();
    const leaseTtlMs = config["high-availability.etcd.lease-ttl"];
    const callTimeoutMs = config["high-availability.etcd.call-timeout"];
    const etcd = await EtcdCluster.start();
    const storageDir = mkdtempSync(join(tmpdir(), "riffle-bench-ha-"));
    const settings = (clusterId: string) => ({
      "high-availability.cluster-id": clusterId,
      "high-availability.etcd.endpoints": etcd.endpointList,
      "high-availability.etcd.lease-ttl": `${leaseTtlMs}ms`,
      "high-availability.etcd.call-timeout": `${callTimeoutMs}ms`,
      "high-availability.storageDir": storageDir,
    });
    const steady = new CandidateProcess("steady", settings("bench-steady"));
    try {
      await steady.next("granted", ROUND_DEADLINE_MS, 0);
      const idleLoad = loadavg()[0]!;
      ctx.log(`load average ${idleLoad.toFixed(2)}; lease TTL ${leaseTtlMs} ms; ${rounds} rounds`);
      const idle = await measure(settings("bench-idle"), rounds, ctx, "idle");
      const stepDownsIdle = steady.events.filter((e) => e.event === "revoked").length;
      const loops = busyLoops();
      let loaded: Samples;
      let loadedLoad: number;
      try {
        loaded = await measure(settings("bench-loaded"), rounds, ctx, "loaded");
        loadedLoad = loadavg()[0]!;
      } finally {
        for (const loop of loops) loop.kill("SIGKILL");
      }
      const stepDownsLoaded = steady.events.filter((e) => e.event === "revoked").length - stepDownsIdle;
      ctx.log(`a leader that was never killed stepped down ${stepDownsIdle} time(s) idle, ${stepDownsLoaded} time(s) loaded`);
      const raft: RaftTrial[] = [];
      const raftTrials = ctx.quick ? 1 : RAFT_TRIALS;
      for (let trial = 0; trial < raftTrials; trial++) {
        raft.push(await raftLeaderLoss((members) => ({ ...settings(`bench-raft-${trial}`), "high-availability.etcd.endpoints": members.endpointList }), trial));
        const t = raft.at(-1)!;
        ctx.log(
          `raft trial ${trial + 1}: kill → raft leader ${t.killToRaftLeaderMs} ms, kill → leader writes ${t.killToWriteMs} ms${t.steppedDown ? " (stepped down and was elected again)" : ""}`,
        );
      }
      const parameters = {
        leaseTtlMs,
        callTimeoutMs,
        etcdMembers: 1,
        rounds,
        loadAvg1mIdle: +idleLoad.toFixed(2),
        loadAvg1mLoaded: +loadedLoad.toFixed(2),
        spuriousStepDownsIdle: stepDownsIdle,
        spuriousStepDownsLoaded: stepDownsLoaded,
        raftTrials,
        raftStepDowns: raft.filter((t) => t.steppedDown).length,
      };
      const rows = (samples: Samples, where: string, name: string): Measured[] => [
        {
          benchmark: "ha-election",
          metric: `${name} kill to elected median`,
          title: `Leader election, ${where}: kill -9 of the leader → standby elected (lease expiry), median of ${rounds}`,
          value: median(samples.kill),
          unit: "ms",
          baseline: { name: "leader resigns → standby elected, median", value: median(samples.resign) },
          better: "lower",
          parameters,
          samples: { value: samples.kill, baseline: samples.resign },
        },
        {
          benchmark: "ha-election",
          metric: `${name} kill to elected max`,
          title: `Leader election, ${where}: kill -9 of the leader → standby elected (lease expiry), max of ${rounds}`,
          value: Math.max(...samples.kill),
          unit: "ms",
          baseline: { name: "leader resigns → standby elected, max", value: Math.max(...samples.resign) },
          better: "lower",
          // A failover has to fit in 5 s: the election may take 4, leaving 1 for the jobs to run again.
          aim: { max: 4_000 },
          parameters,
          samples: { value: samples.kill, baseline: samples.resign },
        },
      ];
      const write = raft.map((t) => t.killToWriteMs);
      const raftLeader = raft.map((t) => t.killToRaftLeaderMs);
      return [
        ...rows(idle, "no load added", "idle"),
        ...rows(loaded, "2 busy processes added on the 2 cores", "loaded"),
        {
          benchmark: "ha-election",
          metric: "raft leader loss to write",
          title: `3-member etcd, its raft leader killed → the leader writes again, median of ${raftTrials} (it stepped down and was elected again in ${parameters.raftStepDowns})`,
          value: median(write),
          unit: "ms",
          baseline: { name: "etcd has a raft leader again, median", value: median(raftLeader) },
          better: "lower",
          parameters,
          samples: { value: write, baseline: raftLeader },
        },
      ];
    } finally {
      await steady.kill();
      await etcd.close();
      rmSync(storageDir, { recursive: true, force: true });
    }
  },
};
