import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync, readlinkSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { RiffleError } from "./errors.js";

/**
 * Job bundles are ES modules (esbuild output) stored by the SHA-256 of their bytes as
 * `<dir>/<hash>.mjs`. They import `@riffle/sdk` (kept external when bundling), so the directory gets a
 * `node_modules` with links to the packages of the process that loads them: the bundle then shares
 * the very SDK module instance the runtime uses.
 */
export function bundleHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function bundlePath(dir: string, hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new RiffleError("BUNDLE_NOT_FOUND", `invalid bundle hash "${hash}"`);
  return join(dir, `${hash}.mjs`);
}

/**
 * Stores a bundle (atomically) in `dir`, which its store made (linkRuntimePackages), and returns its
 * hash. The directory is not made again here: a TaskManager removes its work directory at shutdown,
 * and a bundle download landing after that must fail, not leave a directory nobody will remove.
 */
export function storeBundle(dir: string, bytes: Uint8Array): string {
  const hash = bundleHash(bytes);
  const path = bundlePath(dir, hash);
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  return hash;
}

export function readBundle(dir: string, hash: string): Buffer {
  const path = bundlePath(dir, hash);
  if (!existsSync(path)) throw new RiffleError("BUNDLE_NOT_FOUND", `no bundle ${hash} in ${dir}`);
  return readFileSync(path);
}

/**
 * Links `<dir>/node_modules/<name>` to each given package directory, so bundles stored in `dir`
 * resolve those imports. `packages` maps a package name to its directory (the caller resolves them,
 * e.g. `dirname(dirname(fileURLToPath(import.meta.resolve("@riffle/sdk"))))`).
 */
export function linkRuntimePackages(dir: string, packages: Record<string, string>): void {
  for (const [name, target] of Object.entries(packages)) {
    const link = join(dir, "node_modules", name);
    mkdirSync(dirname(link), { recursive: true });
    let current: string | undefined;
    try {
      current = readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current === target) continue;
    if (current !== undefined || existsSync(link)) rmSync(link, { recursive: true, force: true });
    symlinkSync(target, link, "dir");
  }
}
