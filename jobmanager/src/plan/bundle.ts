import { extname } from "node:path";
import { RiffleError } from "@riffle/shared";
import { build, formatMessages, type Loader, type Message } from "esbuild";

/**
 * CommonJS dependencies bundled into an ES module call `require` for Node's built-ins; esbuild's shim
 * throws "Dynamic require is not supported" unless a real `require` is in scope.
 */
const REQUIRE_BANNER = 'import { createRequire as __riffleCreateRequire } from "node:module";\nconst require = __riffleCreateRequire(import.meta.url);';

const LOADERS: Record<string, Loader> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx" };

/** A job module to bundle: a file on disk (riffle run), or one uploaded with its name (the dashboard). */
export type JobModule = { path: string } | { contents: string; name: string };

/**
 * Bundles a job module into one ES module, as `riffle run` does for every submission. `@riffle/*` stays
 * external: the cluster provides those packages, so the job shares the runtime's SDK. An uploaded
 * module is bundled alone: its relative imports cannot be resolved (bundle such a job with `riffle
 * run`, or upload its bundle). Fails with BUNDLE_INVALID and esbuild's messages.
 */
export async function bundleJobModule(module: JobModule): Promise<Uint8Array> {
  const what = "path" in module ? module.path : module.name;
  let entry: { entryPoints: string[] } | { stdin: { contents: string; sourcefile: string; loader: Loader } };
  if ("path" in module) {
    entry = { entryPoints: [module.path] };
  } else {
    const loader = LOADERS[extname(module.name).toLowerCase()];
    if (!loader) {
      throw new RiffleError("BAD_REQUEST", `cannot bundle ${module.name}: a job file must be a TypeScript or JavaScript module (.ts, .mts, .tsx, .js, .mjs)`);
    }
    entry = { stdin: { contents: module.contents, sourcefile: module.name, loader } };
  }
  try {
    const result = await build({
      ...entry,
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
    if (!output) throw new RiffleError("BUNDLE_INVALID", `esbuild produced no output for ${what}`);
    return output.contents;
  } catch (err) {
    if (err instanceof RiffleError) throw err;
    const errors = (err as { errors?: Message[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const formatted = await formatMessages(errors, { kind: "error", color: false });
      throw new RiffleError("BUNDLE_INVALID", `cannot bundle ${what}:\n${formatted.join("").trimEnd()}`, { cause: err });
    }
    throw new RiffleError("BUNDLE_INVALID", `cannot bundle ${what}: ${(err as Error).message}`, { cause: err });
  }
}
