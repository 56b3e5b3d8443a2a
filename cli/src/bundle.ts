import { statSync } from "node:fs";
import { basename, extname, resolve } from "node:path";
import { build, formatMessages, type Message } from "esbuild";
import { RiffleError } from "@riffle/shared";

/**
 * CommonJS dependencies bundled into an ES module call `require` for Node's built-ins; esbuild's shim
 * throws "Dynamic require is not supported" unless a real `require` is in scope.
 */
const REQUIRE_BANNER = 'import { createRequire as __riffleCreateRequire } from "node:module";\nconst require = __riffleCreateRequire(import.meta.url);';

/**
 * Bundles a job file into one ES module. `@riffle/*` stays external: the cluster provides those
 * packages, so the job shares the runtime's SDK. A missing file fails with FILE_NOT_FOUND, a file
 * esbuild cannot bundle with BUNDLE_INVALID and esbuild's messages.
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
    const result = await build({
      entryPoints: [path],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      external: ["@riffle/*"],
      banner: { js: REQUIRE_BANNER },
      // Stack traces of failing tasks then point into the user's file, not into the bundle.
      sourcemap: "inline",
      write: false,
      logLevel: "silent",
    });
    const output = result.outputFiles[0];
    if (!output) throw new RiffleError("BUNDLE_INVALID", `esbuild produced no output for ${file}`);
    return output.contents;
  } catch (err) {
    if (err instanceof RiffleError) throw err;
    const errors = (err as { errors?: Message[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const formatted = await formatMessages(errors, { kind: "error", color: false });
      throw new RiffleError("BUNDLE_INVALID", `cannot bundle ${file}:\n${formatted.join("").trimEnd()}`, { cause: err });
    }
    throw new RiffleError("BUNDLE_INVALID", `cannot bundle ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The default job name: the file's name without its extension (`jobs/word-count.ts` → `word-count`). */
export function jobNameOf(file: string): string {
  const name = basename(file);
  return name.slice(0, name.length - extname(name).length) || name;
}
