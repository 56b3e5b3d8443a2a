import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { RiffleError, type CheckpointMetadata } from "@riffle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { testGraph } from "../testing/fixtures.js";
import { checkSavepointCompatibility, readSavepoint, savepointDirName } from "./savepoint.js";

function metadata(extra: Partial<CheckpointMetadata> = {}): CheckpointMetadata {
  return {
    version: 1,
    jobId: "ab".repeat(16),
    jobName: "test-job",
    checkpointId: 7,
    timestamp: 1_000,
    isSavepoint: true,
    maxParallelism: 128,
    operators: [
      {
        uid: "source-1",
        parallelism: 1,
        maxParallelism: 128,
        subtasks: [{ keyed: [], operator: [{ kind: "operator", path: "op-source-1/0.op", size: 3, states: {} }] }],
      },
      {
        uid: "map-2",
        parallelism: 2,
        maxParallelism: 128,
        subtasks: [
          { keyed: [{ kind: "keyed", path: "op-map-2/0.keyed", keyGroupRange: { start: 0, end: 63 }, size: 3, keyGroupOffsets: [] }], operator: [] },
          { keyed: [{ kind: "keyed", path: "op-map-2/1.keyed", keyGroupRange: { start: 64, end: 127 }, size: 3, keyGroupOffsets: [] }], operator: [] },
        ],
      },
    ],
    ...extra,
  };
}

function errorOf(fn: () => unknown): RiffleError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RiffleError);
    return err as RiffleError;
  }
  throw new Error("expected an error");
}

describe("savepoints: reading one back", () => {
  let dir: string;
  let sp: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "riffle-savepoint-read-"));
    sp = join(dir, "savepoint-ababab-7-rs");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(meta: unknown = metadata(), files = ["op-source-1/0.op", "op-map-2/0.keyed", "op-map-2/1.keyed"]): void {
    mkdirSync(sp, { recursive: true });
    writeFileSync(join(sp, "_metadata"), typeof meta === "string" ? meta : JSON.stringify(meta));
    for (const f of files) {
      mkdirSync(join(sp, f, ".."), { recursive: true });
      writeFileSync(join(sp, f), "xyz");
    }
  }

  it("reads a whole savepoint, by its directory or its _metadata file, relative paths made absolute", () => {
    write();
    const read = readSavepoint(sp);
    expect(read).toEqual({ id: 7, path: sp, timestamp: 1_000, metadata: metadata() });
    expect(readSavepoint(join(sp, "_metadata")).path).toBe(sp);
    expect(readSavepoint(relative(process.cwd(), sp)).path).toBe(sp);
  });

  it("refuses what is not a savepoint with SAVEPOINT_INVALID naming the path", () => {
    expect(errorOf(() => readSavepoint(join(dir, "nope")))).toMatchObject({
      code: "SAVEPOINT_INVALID",
      message: `savepoint ${join(dir, "nope")} does not exist`,
    });
    mkdirSync(sp);
    expect(errorOf(() => readSavepoint(sp)).message).toBe(
      `${sp} is not a savepoint: it has no _metadata file (a savepoint directory holds _metadata and the state files it names)`,
    );
    writeFileSync(join(dir, "file.txt"), "x");
    expect(errorOf(() => readSavepoint(join(dir, "file.txt"))).message).toBe(
      `${join(dir, "file.txt")} is a file, not a savepoint directory (or its _metadata file)`,
    );
  });

  it("refuses a corrupt _metadata: not JSON, or not metadata", () => {
    write('{"version": 1, "operators": [');
    expect(errorOf(() => readSavepoint(sp))).toMatchObject({ code: "SAVEPOINT_INVALID" });
    expect(errorOf(() => readSavepoint(sp)).message).toMatch(new RegExp(`^${join(sp, "_metadata")} is corrupt: it is not JSON \\(`));
    write({ ...metadata(), maxParallelism: "many" });
    expect(errorOf(() => readSavepoint(sp)).message).toMatch(/is corrupt: it is not savepoint metadata \(maxParallelism: /);
    const escaping = metadata();
    escaping.operators[0]!.subtasks[0]!.operator[0]!.path = "../../etc/passwd";
    write(escaping);
    expect(errorOf(() => readSavepoint(sp)).message).toMatch(/operators\.0\.subtasks\.0\.operator\.0\.path: must be a path inside the checkpoint directory/);
    const lopsided = metadata();
    lopsided.operators[1]!.parallelism = 3;
    write(lopsided);
    expect(errorOf(() => readSavepoint(sp)).message).toMatch(/operator map-2 has parallelism 3 but 2 subtask entries/);
  });

  it("refuses a savepoint copied without all of its state files", () => {
    write(metadata(), ["op-source-1/0.op"]);
    expect(errorOf(() => readSavepoint(sp)).message).toBe(
      `savepoint ${sp} is incomplete: 2 state file(s) its _metadata names are missing (op-map-2/0.keyed, op-map-2/1.keyed); copy the whole directory`,
    );
  });
});

describe("savepoints: matching one to a job", () => {
  const savepoint = (meta: CheckpointMetadata) => ({ id: meta.checkpointId, path: "/sp", timestamp: meta.timestamp, metadata: meta });

  it("accepts a savepoint whose state every operator claims by uid, and operators without state", () => {
    expect(checkSavepointCompatibility(savepoint(metadata()), testGraph(), false)).toEqual({ skipped: [] });
    const onlySource = metadata({ operators: metadata().operators.slice(0, 1) });
    expect(checkSavepointCompatibility(savepoint(onlySource), testGraph(), false)).toEqual({ skipped: [] });
  });

  it("refuses a changed max parallelism with MAX_PARALLELISM_CHANGED", () => {
    const err = errorOf(() => checkSavepointCompatibility(savepoint(metadata()), testGraph({ maxParallelism: 64 }), true));
    expect(err.code).toBe("MAX_PARALLELISM_CHANGED");
    expect(err.message).toMatch(/^the savepoint \/sp was taken with max parallelism 128; the job now has 64; max parallelism can never change/);
  });

  it("refuses state no operator claims with UNMATCHED_STATE, unless allowed", () => {
    const renamed = metadata();
    renamed.operators[1]!.uid = "old-counter";
    const err = errorOf(() => checkSavepointCompatibility(savepoint(renamed), testGraph(), false));
    expect(err.code).toBe("UNMATCHED_STATE");
    expect(err.message).toMatch(
      /^the savepoint \/sp holds state of operators the job does not have: old-counter \(state is matched to operators by uid; the job's uids are source-1, map-2, sink-3\)/,
    );
    expect(checkSavepointCompatibility(savepoint(renamed), testGraph(), true)).toEqual({ skipped: ["old-counter"] });
  });

  it("names savepoint directories after the job, the checkpoint id and the trigger time", () => {
    expect(savepointDirName("0123456789abcdef0123456789abcdef", 12, 1_700_000_000_000)).toBe(`savepoint-012345-12-${(1_700_000_000_000).toString(36)}`);
  });
});
