import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { bundlePath, linkRuntimePackages, storeBundle, RiffleError } from "@riffle/shared";

function packageRoot(specifier: string): string {
  return dirname(dirname(fileURLToPath(import.meta.resolve(specifier))));
}

/**
 * Job bundles on the TaskManager's disk, fetched from the JobManager once per TaskManager. Slot
 * workers import them from here (the directory links @riffle/sdk and @riffle/shared, which bundles
 * leave external, to the TaskManager's own copies).
 */
export class BundleStore {
  private readonly fetches = new Map<string, Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly fetchBundle: (hash: string) => Promise<Buffer>,
  ) {
    linkRuntimePackages(dir, { "@riffle/sdk": packageRoot("@riffle/sdk"), "@riffle/shared": packageRoot("@riffle/shared") });
  }

  /** Resolves once bundle `hash` is on disk. */
  ensure(hash: string): Promise<void> {
    if (existsSync(bundlePath(this.dir, hash))) return Promise.resolve();
    let f = this.fetches.get(hash);
    if (!f) {
      f = this.fetchBundle(hash).then((bytes) => {
        const stored = storeBundle(this.dir, bytes);
        if (stored !== hash) throw new RiffleError("BUNDLE_INVALID", `bundle ${hash} arrived with hash ${stored}`);
      });
      this.fetches.set(hash, f);
      f.finally(() => this.fetches.delete(hash)).catch(() => {});
    }
    return f;
  }
}
