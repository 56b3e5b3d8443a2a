import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundlePath, linkRuntimePackages, storeBundle, RiffleError, describeError } from "@riffle/shared";

function packageRoot(specifier: string): string {
  return dirname(dirname(fileURLToPath(import.meta.resolve(specifier))));
}

/**
 * Job bundles, fetched from the JobManager once per TaskManager and imported once: every task of the
 * job runs the module's default export again (run mode) to get its own function instances.
 */
export class BundleLoader {
  private readonly modules = new Map<string, Promise<unknown>>();

  constructor(
    private readonly dir: string,
    private readonly fetchBundle: (hash: string) => Promise<Buffer>,
  ) {
    linkRuntimePackages(dir, { "@riffle/sdk": packageRoot("@riffle/sdk"), "@riffle/shared": packageRoot("@riffle/shared") });
  }

  load(hash: string): Promise<unknown> {
    let m = this.modules.get(hash);
    if (!m) {
      m = this.fetchAndImport(hash);
      this.modules.set(hash, m);
      m.catch(() => this.modules.delete(hash));
    }
    return m;
  }

  private async fetchAndImport(hash: string): Promise<unknown> {
    const path = bundlePath(this.dir, hash);
    if (!existsSync(path)) {
      const bytes = await this.fetchBundle(hash);
      const stored = storeBundle(this.dir, bytes);
      if (stored !== hash) throw new RiffleError("BUNDLE_INVALID", `bundle ${hash} arrived with hash ${stored}`);
    }
    try {
      return await import(pathToFileURL(path).href);
    } catch (err) {
      throw new RiffleError("BUNDLE_INVALID", `cannot load the job bundle: ${describeError(err)}`, { cause: err });
    }
  }
}
