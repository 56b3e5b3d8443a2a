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
 *     expire in etcd: between TTL − TTL/3 and TTL after the kill (the last keep-alive went out up to a
 *     third of the TTL before), plus up to 500 ms until etcd's next expiry check.
 *   - resign (baseline): with a new standby waiting, the leader resigns (closes its HA services,
 *     which revokes its lease), timed from the command to the standby's grant: the election without
 *     a lease to wait out.
 * The rounds run once on the machine as it is (the load average says how idle it was), then again with two busy processes (a spinning loop
 * each, one per core) competing with etcd and the candidates: the "loaded 2-core machine" the
 * default TTL was chosen for (docs/decisions/0006-ha-lease-ttl.md). Through both phases one more
 * candidate leads a cluster of its own and is never killed: a leader that steps down anyway lost its
 * lease to the load alone, and the count of such step-downs is reported as a parameter.
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
import type { Benchmark, BenchmarkContext, Measured } from "./benchmark.js";
import { median } from "./stats.js";

const ROUNDS = 10;
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
      const parameters = {
        leaseTtlMs,
        callTimeoutMs,
        etcdMembers: 1,
        rounds,
        loadAvg1mIdle: +idleLoad.toFixed(2),
        loadAvg1mLoaded: +loadedLoad.toFixed(2),
        spuriousStepDownsIdle: stepDownsIdle,
        spuriousStepDownsLoaded: stepDownsLoaded,
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
      return [...rows(idle, "no load added", "idle"), ...rows(loaded, "2 busy processes added on the 2 cores", "loaded")];
    } finally {
      await steady.kill();
      await etcd.close();
      rmSync(storageDir, { recursive: true, force: true });
    }
  },
};
