import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RiffleError } from "@riffle/shared";
import { bundleJob, jobNameOf } from "./bundle.js";

const dir = mkdtempSync(join(tmpdir(), "riffle-bundle-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundleError(file: string): Promise<RiffleError> {
  const err = await bundleJob(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RiffleError);
  return err as RiffleError;
}

describe("bundleJob", () => {
  it("bundles a job with its local imports and keeps @riffle/* as imports", async () => {
    writeFileSync(join(dir, "words.ts"), "export const splitWords = (line: string): string[] => line.split(/\\s+/).filter(Boolean);\n");
    const job = join(dir, "word-count.ts");
    writeFileSync(
      job,
      [
        'import { type StreamExecutionEnvironment, PrintSink } from "@riffle/sdk";',
        'import { splitWords } from "./words";',
        "export default function wordCount(env: StreamExecutionEnvironment) {",
        '  env.fromElements("a b", "c").flatMap(splitWords).sinkTo(new PrintSink());',
        "}",
      ].join("\n"),
    );
    const code = new TextDecoder().decode(await bundleJob(job));
    expect(code).toMatch(/from\s*"@riffle\/sdk"/);
    expect(code).toContain("splitWords");
    expect(code).not.toMatch(/from\s*"\.\/words"/);
    expect(code).toContain("export {");
  });

  it("refuses a missing file with FILE_NOT_FOUND", async () => {
    const err = await bundleError(join(dir, "nope.ts"));
    expect(err.code).toBe("FILE_NOT_FOUND");
    expect(err.message).toContain("nope.ts");
  });

  it("refuses a directory with FILE_NOT_FOUND", async () => {
    expect((await bundleError(dir)).code).toBe("FILE_NOT_FOUND");
  });

  it("reports a syntax error as BUNDLE_INVALID with esbuild's location", async () => {
    const job = join(dir, "broken.ts");
    writeFileSync(job, "export default function (env) {\n  env.fromElements(1, 2\n}\n");
    const err = await bundleError(job);
    expect(err.code).toBe("BUNDLE_INVALID");
    expect(err.message).toContain("broken.ts:3:0");
    expect(err.message).toContain('Expected ")"');
  });

  it("reports an unresolvable import as BUNDLE_INVALID", async () => {
    const job = join(dir, "missing-import.ts");
    writeFileSync(job, 'import { x } from "./not-there";\nexport default function () { return x; }\n');
    const err = await bundleError(job);
    expect(err.code).toBe("BUNDLE_INVALID");
    expect(err.message).toContain("./not-there");
  });
});

describe("jobNameOf", () => {
  it("is the file name without its extension", () => {
    expect(jobNameOf("examples/word-count.ts")).toBe("word-count");
    expect(jobNameOf("/a/b/job.mjs")).toBe("job");
    expect(jobNameOf("plain")).toBe("plain");
  });
});
