import { statSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { bundleJobModule } from "@riffle/jobmanager";
import { RiffleError } from "@riffle/shared";

/**
 * Bundles a job file into one ES module (see bundleJobModule: `@riffle/*` stays external). A missing
 * file fails with FILE_NOT_FOUND, a file esbuild cannot bundle with BUNDLE_INVALID and esbuild's
 * messages.
 */
export async function bundleJob(file: string): Promise<Uint8Array> {
  const path = resolve(file);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new RiffleError("FILE_NOT_FOUND", `job file not found: ${file}`);
  try {
    return await bundleJobModule({ path });
  } catch (err) {
    // Name the file as the user gave it.
    if (err instanceof RiffleError && err.message.startsWith(`cannot bundle ${path}`)) {
      throw new RiffleError(err.code, `cannot bundle ${file}${err.message.slice(`cannot bundle ${path}`.length)}`, { cause: err.cause });
    }
    throw err;
  }
}

/** The default job name: the file's name without its extension (`jobs/word-count.ts` → `word-count`). */
export function jobNameOf(file: string): string {
  const name = basename(file);
  return name.slice(0, name.length - extname(name).length) || name;
}
