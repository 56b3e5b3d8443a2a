import { existsSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { createRequire } from "node:module";
import { bundlePath, linkRuntimePackages, readBundle, storeBundle } from "@riffle/shared";

/**
 * Job bundles by content hash. Bundles keep `@riffle/*` external, so the directory links those
 * packages to the ones this process runs: a bundle loaded here shares the JobManager's SDK.
 */
export class BundleStore {
  constructor(readonly dir: string) {
    linkRuntimePackages(dir, { "@riffle/sdk": packageRoot("@riffle/sdk"), "@riffle/shared": packageRoot("@riffle/shared") });
  }

  put(bytes: Uint8Array): string {
    return storeBundle(this.dir, bytes);
  }

  get(hash: string): Buffer {
    return readBundle(this.dir, hash);
  }

  path(hash: string): string {
    return bundlePath(this.dir, hash);
  }

  has(hash: string): boolean {
    return existsSync(bundlePath(this.dir, hash));
  }

  /** Removes a bundle no job refers to (one whose submission was refused). */
  remove(hash: string): void {
    rmSync(bundlePath(this.dir, hash), { force: true });
  }
}

/**
 * The package's root directory: its main is `<root>/dist/index.js`. Resolved through require's
 * resolver because `import.meta.resolve` is missing when this module runs under a test transform;
 * both follow the same `exports` entry ("default") and return the real path.
 */
function packageRoot(name: string): string {
  return dirname(dirname(createRequire(import.meta.url).resolve(name)));
}
