import { describe, expect, it } from "vitest";
import { ManualClock, RiffleError, createLogger, loadConfig } from "@riffle/shared";
import type { ProvidedTaskManager, ProviderExit, TaskManagerProvider } from "./provider.js";
import { type RegisteredView, ResourceManager, type SlotDemand } from "./resource-manager.js";

/**
 * The resource manager's decisions, tick by tick on a manual clock, against a provider that only
 * records what it is told and a registry and slot demand the test sets.
 */
const log = createLogger("test");
log.level = "silent";

const SLOTS_PER_TM = 2;

class RecordingProvider implements TaskManagerProvider {
  readonly name = "recording";
  readonly started: string[] = [];
  readonly stopped: string[] = [];
  readonly exited: string[] = [];
  /** Refuse every start (a daemon down, a quota). */
  refuse = false;
  private listener: ((exit: ProviderExit) => void) | undefined;
  adoptable: ProvidedTaskManager[] = [];

  async start(id: string): Promise<ProvidedTaskManager> {
    if (this.refuse) throw new RiffleError("PROVIDER_FAILED", "no room for another TaskManager");
    this.started.push(id);
    return { id, startedAt: 0, where: `fake ${id}` };
  }

  async stop(id: string): Promise<void> {
    this.stopped.push(id);
  }

  /** Lists that fail before one answers (an API that is down). */
  listFailures = 0;
  lists = 0;
  /** Lists never answer (an API that accepts the connection and stays silent). */
  listHangs = false;

  async list(): Promise<ProvidedTaskManager[]> {
    this.lists++;
    if (this.listHangs) return new Promise(() => {});
    if (this.listFailures > 0) {
      this.listFailures--;
      throw new RiffleError("PROVIDER_FAILED", "cannot list the TaskManager pods: the Kubernetes API did not answer");
    }
    return this.adoptable;
  }

  watch(listener: (exit: ProviderExit) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {}

  /** The TaskManager ends on its own (its process died). */
  exit(id: string, reason = "was killed by SIGKILL"): void {
    this.exited.push(id);
    this.listener?.({ id, reason });
  }
}

/** Registered TaskManagers by id, each with its slots' owners (undefined: free). */
class FakeRegistry implements RegisteredView {
  readonly tms = new Map<string, Array<string | undefined>>();

  register(id: string): void {
    this.tms.set(
      id,
      Array.from({ length: SLOTS_PER_TM }, () => undefined),
    );
  }

  get(id: string) {
    const slotOwners = this.tms.get(id);
    return slotOwners ? { slotOwners } : undefined;
  }

  slotCounts() {
    let slotsAvailable = 0;
    for (const owners of this.tms.values()) slotsAvailable += owners.filter((o) => o === undefined).length;
    return { slotsAvailable };
  }

  /** A job takes every slot of `id`. */
  occupy(id: string): void {
    this.tms.set(
      id,
      Array.from({ length: SLOTS_PER_TM }, () => "job"),
    );
  }
}

/** Lets the provider's promises settle (start and stop resolve at once). */
const settle = () => new Promise<void>((r) => setImmediate(r));

async function setUp(settings: Record<string, string> = {}) {
  const clock = new ManualClock(1_000_000);
  const provider = new RecordingProvider();
  const registry = new FakeRegistry();
  const demand = { pending: 0 };
  const slots: SlotDemand = { pendingSlots: () => demand.pending };
  const config = loadConfig({
    env: {},
    overrides: {
      "taskmanager.slots": String(SLOTS_PER_TM),
      "resourcemanager.taskmanagers.min": "0",
      "resourcemanager.taskmanagers.max": "3",
      "resourcemanager.taskmanager-timeout": "30s",
      "resourcemanager.taskmanager-registration.timeout": "2m",
      "resourcemanager.start-worker.retry-interval": "3s",
      ...settings,
    },
  });
  const rm = new ResourceManager({ provider, registry, slots, config, clock, logger: log });
  /** Moves the clock on (the resource manager ticks every 500 ms) and lets the provider's calls settle. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  /** Every TaskManager the provider started, and that still runs, registers (if it has not yet). */
  const registerAll = () => {
    for (const id of provider.started) {
      if (!provider.stopped.includes(id) && !provider.exited.includes(id) && !registry.tms.has(id)) registry.register(id);
    }
  };
  return { clock, provider, registry, demand, rm, advance, registerAll };
}

describe("ResourceManager", () => {
  it("starts TaskManagers for the slots jobs wait for, counting those still starting, and no more than max", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp();
    await rm.start();
    await settle();
    expect(provider.started).toEqual([]);

    // A job waits for 3 slots: two TaskManagers of 2 slots each.
    demand.pending = 3;
    await advance(500);
    expect(provider.started).toHaveLength(2);
    expect(rm.states()).toEqual({ starting: 2, registered: 0, stopping: 0 });
    // While they start, the demand is covered: nothing more.
    await advance(5_000);
    expect(provider.started).toHaveLength(2);

    registerAll();
    await advance(500);
    expect(rm.states()).toEqual({ starting: 0, registered: 2, stopping: 0 });
    // The job takes its slots; then a bigger one waits for 8 more: only one more fits under max = 3.
    for (const id of registry.tms.keys()) registry.occupy(id);
    demand.pending = 8;
    await advance(500);
    expect(provider.started).toHaveLength(3);
    await advance(5_000);
    expect(provider.started).toHaveLength(3);
    expect(rm.extraSlots()).toBe(0);
    expect(rm.counts.started).toBe(3);
    // The wait cannot end by this resource manager: the job's NO_RESOURCE_AVAILABLE names max.
    expect(rm.shortage).toBe(
      "the recording provider already runs resourcemanager.taskmanagers.max (3) TaskManagers of 2 slots, so it starts no more (raise the max)",
    );
    demand.pending = 0;
    await advance(500);
    expect(rm.shortage).toBeUndefined();
  });

  it("replaces a TaskManager that died while its slots are needed, and keeps min running", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp({ "resourcemanager.taskmanagers.min": "1" });
    await rm.start();
    await advance(500);
    // min = 1: one starts without any job.
    expect(provider.started).toHaveLength(1);
    registerAll();
    // It runs for a while (one that dies soon after registering is a failed start: see below).
    await advance(121_000);
    const first = provider.started[0]!;

    // Its process dies: the registry drops it (heartbeats), the provider reports the exit.
    registry.tms.delete(first);
    provider.exit(first);
    expect(rm.counts.exited).toBe(1);
    await advance(500);
    expect(provider.started).toHaveLength(2);
    const second = provider.started[1]!;
    registerAll();
    await advance(500);

    // A job runs on it and one more TaskManager; that one dies too, and the job waits for its 2 slots.
    registry.occupy(second);
    demand.pending = 2;
    await advance(500);
    expect(provider.started).toHaveLength(3);
    const third = provider.started[2]!;
    registerAll();
    registry.occupy(third);
    demand.pending = 0;
    await advance(121_000);
    registry.tms.delete(third);
    provider.exit(third);
    demand.pending = 2; // the job restarts and waits for the slots it lost
    await advance(500);
    expect(provider.started).toHaveLength(4);
    expect(provider.stopped).toEqual([]);
  });

  it("a provider that cannot list at start is asked again, backing off; nothing is started until it answers, then what it lists is adopted", async () => {
    const { provider, demand, rm, advance } = await setUp({ "resourcemanager.taskmanagers.min": "1" });
    provider.listFailures = 2;
    provider.adoptable = [{ id: "left-behind", startedAt: 0, where: "fake left-behind" }];
    await rm.start(); // does not throw: the leader goes on serving its jobs
    expect(provider.lists).toBe(1);
    expect(rm.failure).toMatch(/cannot list its TaskManagers: PROVIDER_FAILED: cannot list the TaskManager pods/);
    demand.pending = 4;
    // Tried again after 1 s, then after 2 s more; nothing started meanwhile (what runs is unknown).
    await advance(500);
    expect(provider.lists).toBe(1);
    await advance(500);
    expect(provider.lists).toBe(2);
    await advance(1_000);
    expect(provider.lists).toBe(2);
    expect(provider.started).toEqual([]);
    await advance(1_000);
    expect(provider.lists).toBe(3);
    await settle();
    expect(rm.failure).toBeUndefined();
    expect(rm.states().starting).toBe(1); // the adopted one, which counts toward min and the demand
    await advance(500);
    expect(provider.started).toHaveLength(1); // 4 slots wanted: the adopted one's 2 and one more's
  });

  it("releases TaskManagers idle past the timeout, down to min, and keeps busy ones", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp({ "resourcemanager.taskmanagers.min": "1" });
    await rm.start();
    await settle();
    demand.pending = 6;
    await advance(500);
    expect(provider.started).toHaveLength(3);
    registerAll();
    const [a, b, c] = provider.started as [string, string, string];
    registry.occupy(a);
    demand.pending = 0;
    await advance(500);
    expect(rm.states().registered).toBe(3);

    // b and c are idle; just under the timeout nothing happens.
    await advance(29_000);
    expect(provider.stopped).toEqual([]);
    await advance(1_500);
    // Past it, idle ones go, but never below min: a (busy) counts, so both b and c can go.
    expect(provider.stopped.sort()).toEqual([b, c].sort());
    expect(rm.counts.released).toBe(2);
    await settle();
    expect(rm.states()).toEqual({ starting: 0, registered: 1, stopping: 0 });

    // a's job ends: a is idle, but it is the last one (min = 1) and stays.
    registry.register(a);
    await advance(120_000);
    expect(provider.stopped).not.toContain(a);
    expect(rm.states().registered).toBe(1);
  });

  it("stops and reports a TaskManager that never registers, and waits longer before each next start", async () => {
    const { provider, demand, rm, advance } = await setUp();
    await rm.start();
    await settle();
    demand.pending = 1;
    await advance(500);
    expect(provider.started).toHaveLength(1);
    const silent = provider.started[0]!;

    // It never registers: at the registration timeout (2 min) it is stopped and reported.
    await advance(119_000);
    expect(provider.stopped).toEqual([]);
    await advance(1_000);
    expect(provider.stopped).toEqual([silent]);
    expect(rm.counts.registrationTimeouts).toBe(1);
    expect(rm.failure).toBe(`TaskManager ${silent} did not register within 120000 ms`);

    // The next start waits for the retry interval (3 s) ...
    await advance(2_500);
    expect(provider.started).toHaveLength(1);
    await advance(1_000);
    expect(provider.started).toHaveLength(2);
    // ... and a refused start doubles it (6 s), so a broken provider is not hammered.
    provider.exit(provider.started[1]!, "exited with code 1");
    expect(rm.failure).toMatch(/exited with code 1 before it registered/);
    provider.refuse = true;
    await advance(6_000);
    await advance(500);
    expect(rm.counts.startFailures).toBe(3);
    expect(rm.failure).toMatch(/PROVIDER_FAILED: no room for another TaskManager/);
    provider.refuse = false;
    await advance(11_000);
    expect(provider.started).toHaveLength(2);
    await advance(1_000);
    expect(provider.started).toHaveLength(3);
  });

  it("adopts the TaskManagers a previous JobManager left, and starts none for slots they will bring", async () => {
    const { provider, registry, demand, rm, advance } = await setUp();
    provider.adoptable = [{ id: "taskmanager-left", startedAt: 0, where: "pid 42" }];
    demand.pending = 2;
    await rm.start();
    await settle();
    expect(rm.states()).toEqual({ starting: 1, registered: 0, stopping: 0 });
    expect(provider.started).toEqual([]);
    registry.register("taskmanager-left");
    await advance(500);
    expect(rm.states()).toEqual({ starting: 0, registered: 1, stopping: 0 });
    expect(provider.started).toEqual([]);
  });

  it("counts no slots a failing or backing-off provider cannot deliver, and says why", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp();
    await rm.start();
    await settle();
    expect(rm.holdReason).toBeUndefined();
    expect(rm.extraSlots()).toBe(3 * SLOTS_PER_TM);
    provider.refuse = true;
    demand.pending = 2;
    await advance(500);
    await settle();
    // The start failed: until a TaskManager comes up, none of the 3 possible ones is counted.
    expect(rm.holdReason).toMatch(/PROVIDER_FAILED: no room for another TaskManager/);
    expect(rm.extraSlots()).toBe(0);
    provider.refuse = false;
    await advance(3_000);
    expect(provider.started).toHaveLength(1);
    expect(rm.extraSlots()).toBe(0); // still starting: not yet proven
    registerAll();
    await advance(500);
    expect(rm.holdReason).toBeUndefined();
    expect(rm.extraSlots()).toBe(2 * SLOTS_PER_TM);
    expect(registry.tms.size).toBe(1);
  });

  it("does not wait for a provider whose list hangs: starts nothing meanwhile, and counts no extra slots", async () => {
    const { provider, demand, rm, advance } = await setUp();
    provider.listHangs = true;
    await rm.start(); // resolves although the list never answers
    demand.pending = 2;
    await advance(5_000);
    expect(provider.started).toEqual([]);
    expect(rm.extraSlots()).toBe(0);
    expect(rm.holdReason).toMatch(/has not listed its TaskManagers yet/);
  });

  it("backs off from TaskManagers that die soon after they registered, and clears it once one stays", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp();
    await rm.start();
    await settle();
    demand.pending = 2;
    await advance(500);
    expect(provider.started).toHaveLength(1);
    // Each one registers, then is killed a second later (at its first deploy).
    const killAfterRegistering = async () => {
      registerAll();
      await advance(500);
      const id = provider.started.at(-1)!;
      expect(rm.states().registered).toBe(1);
      await advance(1_000);
      registry.tms.delete(id);
      provider.exit(id);
    };
    await killAfterRegistering();
    expect(rm.failure).toMatch(/was killed by SIGKILL 1000 ms after it registered/);
    // 3 s, then 6 s, then 12 s before the next start: not replaced at once, forever.
    await advance(2_500);
    expect(provider.started).toHaveLength(1);
    await advance(1_000);
    expect(provider.started).toHaveLength(2);
    await killAfterRegistering();
    await advance(5_500);
    expect(provider.started).toHaveLength(2);
    await advance(1_000);
    expect(provider.started).toHaveLength(3);
    await killAfterRegistering();
    await advance(11_000);
    expect(provider.started).toHaveLength(3);
    await advance(1_500);
    expect(provider.started).toHaveLength(4);
    // This one stays past the registration timeout (2 min): the back-off is cleared, and one that
    // dies after that is replaced at once.
    registerAll();
    await advance(121_000);
    const stayed = provider.started.at(-1)!;
    registry.tms.delete(stayed);
    provider.exit(stayed);
    expect(rm.failure).toBeUndefined();
    await advance(500);
    expect(provider.started).toHaveLength(5);
  });

  it("stops a registered TaskManager that left the registry while its process lives, and starts another for the demand", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp();
    await rm.start();
    await settle();
    demand.pending = 2;
    await advance(500);
    registerAll();
    await advance(500);
    const hung = provider.started[0]!;
    registry.occupy(hung);
    demand.pending = 0;
    await advance(500);
    // Its heartbeats time out (it hangs): the registry drops it; no exit is reported. The job waits for its slots again.
    registry.tms.delete(hung);
    demand.pending = 2;
    await advance(500);
    expect(rm.states()).toEqual({ starting: 1, registered: 0, stopping: 0 });
    // It is given the registration timeout to come back (counted toward the demand meanwhile) ...
    await advance(119_000);
    expect(provider.stopped).toEqual([]);
    expect(provider.started).toHaveLength(1);
    // ... then stopped, and a new one starts after the back-off.
    await advance(1_000);
    expect(provider.stopped).toEqual([hung]);
    expect(rm.failure).toMatch(/did not register again within 120000 ms/);
    await advance(3_500);
    expect(provider.started).toHaveLength(2);
  });

  it("replaces at once a long-running TaskManager that left the registry and then ended", async () => {
    const { provider, registry, demand, rm, advance, registerAll } = await setUp();
    await rm.start();
    await settle();
    demand.pending = 2;
    await advance(500);
    registerAll();
    await advance(500);
    const old = provider.started[0]!;
    registry.occupy(old);
    demand.pending = 0;
    await advance(300_000);
    // Its heartbeats time out first, then its process is reported gone: an ordinary death, no back-off.
    registry.tms.delete(old);
    demand.pending = 2;
    await advance(500);
    provider.exit(old);
    expect(rm.failure).toBeUndefined();
    await advance(500);
    expect(provider.started).toHaveLength(2);
  });
});
