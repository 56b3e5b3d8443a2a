import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, waitForCheckpoints } from "./harness/index.js";

/**
 * A disk that fills up during checkpoints: the checkpoint storage directory is a small tmpfs of its
 * own (mounting needs root, which CI has), filled to the last byte while a job checkpoints. The failed
 * checkpoints say why, the job keeps running within its tolerable failures, the completed checkpoint
 * before the disk filled stays whole, and checkpoints complete again once there is room.
 */

interface CheckpointStats {
  counts: { completed: number; failed: number };
  latest: {
    completed: { id: number; external_path: string } | null;
    failed: { id: number; failure_message?: string } | null;
  };
}

const JOB = "e2e/jobs/savepoint-count.ts";
let work: string;
let disk: string;

/** Mounting a tmpfs needs root: CI runs as root; elsewhere the test is reported as skipped. */
const canMount = process.getuid?.() === 0;

beforeAll(() => {
  if (!canMount) return;
  work = mkdtempSync(join(tmpdir(), "riffle-disk-full-"));
  disk = join(work, "disk");
  mkdirSync(disk);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", disk]);
});

afterAll(() => {
  if (!canMount) return;
  execFileSync("umount", ["-l", disk]);
  rmSync(work, { recursive: true, force: true });
});

/** Writes one file until the filesystem refuses with ENOSPC: the disk is then full. */
function fill(dir: string): string {
  const file = join(dir, "filler");
  const dd = execFileSync("sh", ["-c", `dd if=/dev/zero of=${file} bs=64k 2>&1 || true`]).toString();
  expect(dd).toMatch(/No space left on device/);
  return file;
}

describe.skipIf(!canMount)("checkpoints on a disk that fills up (needs root to mount a tmpfs)", () => {
  it("fail with the reason, keep the job and the last completed checkpoint, and resume when space returns", async () => {
    const cluster = await TestCluster.start({
      taskmanagers: 2,
      config: { "state.checkpoints.dir": join(disk, "checkpoints"), "state.checkpoints.num-retained": 20 },
    });
    try {
      const args = [
        "--out",
        join(work, "out"),
        "--count",
        "10000000",
        "--rate",
        "2000",
        "--keys",
        "500",
        "--checkpoint-interval",
        "200",
        "--tolerable-failures",
        "1000",
      ];
      const jobId = await cluster.submit(JOB, { parallelism: 2, args });
      const before = await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed >= 2);

      const filler = fill(disk);
      const full = await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.failed >= 2);
      expect(full.latest.failed?.failure_message).toMatch(/no space left on device.*free space on the checkpoint storage/i);
      expect((await cluster.job(jobId)).state).toBe("RUNNING");
      // The last checkpoint completed before (or while) the disk filled is whole: its metadata parses
      // and every state file it names exists.
      const last = full.latest.completed!;
      expect(last.id).toBeGreaterThanOrEqual(before.latest.completed!.id);
      const metadata = JSON.parse(readFileSync(join(last.external_path, "_metadata"), "utf8")) as { checkpointId: number };
      expect(metadata.checkpointId).toBe(last.id);
      for (const path of stateFiles(metadata)) expect(existsSync(join(last.external_path, path)), path).toBe(true);

      rmSync(filler);
      const resumed = await waitForCheckpoints<CheckpointStats>(cluster, jobId, (s) => s.counts.completed >= full.counts.completed + 2);
      expect(resumed.latest.completed!.id).toBeGreaterThan(full.latest.failed!.id);
      expect((await cluster.job(jobId)).state).toBe("RUNNING");
    } finally {
      await cluster.stop();
    }
  });
});

/** The relative paths of the state files a checkpoint's metadata names. */
function stateFiles(metadata: unknown): string[] {
  const paths: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "path" && typeof x === "string") paths.push(x);
        else walk(x);
      }
    }
  };
  walk(metadata);
  return paths;
}
