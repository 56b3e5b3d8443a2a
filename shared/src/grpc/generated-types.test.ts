import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script without types
import { DEFAULT_OUT, generate } from "../../scripts/gen-proto-types.mjs";

const out = mkdtempSync(join(tmpdir(), "riffle-proto-types-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else found.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return found;
}

describe("generated proto types", () => {
  it("are what proto-loader-gen-types makes of proto/ now (run `npm run proto:types` after changing a .proto file)", () => {
    (generate as (dir: string) => void)(out);
    const fresh = files(out);
    const committed = files(DEFAULT_OUT as string);
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [path, text] of fresh) expect(committed.get(path), path).toBe(text);
  });
});
