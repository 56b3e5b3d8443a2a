import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RiffleProcess, TestCluster } from "./harness/index.js";

/**
 * The README's first command, `npm start`, and its attached form against a running cluster: word
 * count over examples/data/words.txt, its rolling counts printed to stdout, exit code 0.
 */

const INPUT = "examples/data/words.txt";
/** What `npm start` runs after building (checked against package.json below). */
const START_ARGS = ["run", "-p", "2", "examples/word-count.ts", "--input", INPUT];

/** Every word's count, by brute force with examples/word-count.ts's tokenization. */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(join(REPO_ROOT, INPUT), "utf8").split("\n")) {
    for (const word of line
      .toLowerCase()
      .split(/[^\p{L}\p{N}']+/u)
      .filter((w) => w.length > 0)) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

/** The printed rolling counts of each word, in the order they were printed. */
function printedCounts(output: readonly string[]): Map<string, number[]> {
  const printed = new Map<string, number[]>();
  for (const line of output) {
    const record = JSON.parse(line) as { word: unknown; count: unknown };
    expect(typeof record.word, line).toBe("string");
    expect(typeof record.count, line).toBe("number");
    const word = record.word as string;
    printed.set(word, [...(printed.get(word) ?? []), record.count as number]);
  }
  return printed;
}

/**
 * The last count printed for each word is its total, and each word was printed once per
 * occurrence (a rolling sum emits 1, 2, …, n): no word missing, none extra, none counted twice.
 */
function expectWordCounts(output: readonly string[]): void {
  const expected = expectedCounts();
  expect(expected.size).toBeGreaterThan(50);
  const printed = printedCounts(output);
  expect([...printed.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [word, total] of expected) {
    const counts = printed.get(word)!;
    expect(counts.at(-1), word).toBe(total);
    expect(
      [...counts].sort((a, b) => a - b),
      word,
    ).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  }
}

/**
 * Live Riffle processes (`node …/cli/dist/main.js <command>`) whose environment holds `tag`, as
 * pid and command. Children inherit the environment, so these are the tagged CLI and the cluster
 * it started, wherever they were reparented. Other children (esbuild's service, which quits when
 * its parent's pipe closes) are not Riffle's. Zombies are left out: they run nothing and hold no
 * port.
 */
function riffleProcessesTagged(tag: string): Array<{ pid: number; command: string }> {
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: Buffer;
    let argv: string[];
    let stat: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`);
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile, or another user's
    }
    // NUL-separated KEY=value entries; a leading NUL lets the first entry match like the others.
    if (!Buffer.concat([Buffer.from("\0"), environ]).includes(`\0${tag}\0`)) continue;
    if (!argv[1]?.endsWith("cli/dist/main.js")) continue;
    // The state follows the command name, which is in parentheses and may itself hold spaces.
    if (stat.charAt(stat.lastIndexOf(")") + 2) === "Z") continue;
    found.push({ pid: Number(entry), command: argv[2] ?? "" });
  }
  return found;
}

describe("riffle run on an embedded cluster (npm start)", () => {
  it("runs package.json's start command: word counts match a brute-force count, exit 0, no process left", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
    expect(pkg.scripts.start).toMatch(new RegExp(`&& node cli/dist/main\\.js ${START_ARGS.join(" ").replaceAll(".", "\\.")}$`));

    const tag = `RIFFLE_E2E_EMBEDDED_RUN=${randomUUID()}`;
    const [key, value] = tag.split("=") as [string, string];
    const run = new RiffleProcess("riffle run", START_ARGS, { [key]: value });
    try {
      // Submitted: the embedded cluster is up, and stays up until the job ended and its results are read.
      await run.waitForStderr((l) => /^Job [0-9a-f]{32} submitted$/.test(l), 45_000);
      const running = riffleProcessesTagged(tag);
      expect(running.map((p) => p.command).sort()).toEqual(["jobmanager", "run", "taskmanager", "taskmanager"]);
      expect(running.find((p) => p.command === "run")?.pid).toBe(run.pid);

      const exit = await run.waitForExit(45_000);
      expect(exit, run.tail()).toEqual({ code: 0, signal: null });
      expect(run.stderr.at(-1)).toMatch(/^Job [0-9a-f]{32} FINISHED in \d+ ms$/);
      expectWordCounts(run.output);
      // The CLI waits for its cluster's processes to exit before it exits itself.
      expect(riffleProcessesTagged(tag)).toEqual([]);
    } finally {
      await run.stop();
    }
  }, 120_000);
});

describe("riffle run attached to a running cluster", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.start({ taskmanagers: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("prints the collected word counts and exits 0 once the job finished, leaving the cluster running", async () => {
    const host = new URL(cluster.restUrl).host;
    const run = new RiffleProcess("riffle run -m", ["run", "-m", host, ...START_ARGS.slice(1)]);
    try {
      const submitted = await run.waitForStderr((l) => /^Job [0-9a-f]{32} submitted$/.test(l), 30_000);
      const jobId = submitted.split(" ")[1]!;
      const exit = await run.waitForExit(45_000);
      expect(exit, run.tail()).toEqual({ code: 0, signal: null });
      expectWordCounts(run.output);
      const job = await cluster.job(jobId);
      expect(job.state).toBe("FINISHED");
      expect(job.vertices.map((v) => v.parallelism)).toContain(2);
    } finally {
      await run.stop();
    }
    expect(cluster.taskmanagers.every((tm) => !tm.hasExited)).toBe(true);
    expect(cluster.jobmanager.hasExited).toBe(false);
  }, 90_000);
});
