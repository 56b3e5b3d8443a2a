import { readFileSync, existsSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { RiffleError } from "../errors.js";
import { CONFIG_OPTIONS, envVarName, type ConfigKey, type RiffleConfig } from "./schema.js";

export interface LoadConfigOptions {
  /** Path of a riffle.yaml; when absent, `./riffle.yaml` is read if it exists. */
  file?: string | undefined;
  /** Environment to read RIFFLE_* variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Values from CLI flags, by key. */
  overrides?: Partial<Record<string, unknown>>;
}

function isKey(key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_OPTIONS, key);
}

/** Parses `key=value` pairs from `--set` flags. */
export function parseSetFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new RiffleError("CONFIG_INVALID", `--set expects key=value, got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * Loads the configuration: defaults, then the YAML file, then RIFFLE_* variables, then flags.
 * Unknown keys and bad values are refused with CONFIG_INVALID naming the key and its source.
 */
export function loadConfig(options: LoadConfigOptions = {}): RiffleConfig {
  const env = options.env ?? process.env;
  const raw: Record<string, { value: unknown; source: string }> = {};
  for (const [key, def] of Object.entries(CONFIG_OPTIONS)) raw[key] = { value: def.default, source: "default" };

  const file = options.file ?? (existsSync("riffle.yaml") ? "riffle.yaml" : undefined);
  if (file !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, "utf8"));
    } catch (e) {
      throw new RiffleError("CONFIG_INVALID", `cannot read configuration file ${file}: ${(e as Error).message}`, { cause: e });
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== "object" || Array.isArray(doc)) throw new RiffleError("CONFIG_INVALID", `${file} must be a mapping of keys to values`);
      for (const [key, value] of Object.entries(flatten(doc as Record<string, unknown>))) {
        if (!isKey(key)) throw unknownKey(key, file);
        raw[key] = { value, source: file };
      }
    }
  }
  for (const key of Object.keys(CONFIG_OPTIONS)) {
    const v = env[envVarName(key)];
    if (v !== undefined && v !== "") raw[key] = { value: v, source: `environment variable ${envVarName(key)}` };
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    if (!isKey(key)) throw unknownKey(key, "flags");
    raw[key] = { value, source: "flags" };
  }

  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(CONFIG_OPTIONS)) {
    const entry = raw[key]!;
    const parsed = def.schema.safeParse(entry.value);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join("; ");
      throw new RiffleError("CONFIG_INVALID", `invalid value ${JSON.stringify(entry.value)} for ${key} (from ${entry.source}): ${why}`);
    }
    out[key] = parsed.data;
  }
  return out as RiffleConfig;
}

/** Keys that were renamed, so an old configuration gets told the new name. */
const RENAMED: Record<string, string> = {
  "taskmanager.network.memory": "taskmanager.memory.network.size",
  "taskmanager.network.buffer-size": "taskmanager.memory.segment-size",
};

function unknownKey(key: string, source: string): RiffleError {
  const renamed = RENAMED[key];
  if (renamed) return new RiffleError("CONFIG_INVALID", `configuration key "${key}" in ${source} was renamed to ${renamed}.`);
  const near = Object.keys(CONFIG_OPTIONS).filter((k) => k.split(".").pop() === key.split(".").pop());
  const hint = near.length > 0 ? ` Did you mean ${near.join(" or ")}?` : " See docs/configuration.md for the keys.";
  return new RiffleError("CONFIG_INVALID", `unknown configuration key "${key}" in ${source}.${hint}`);
}

/** Accepts both flat (`rest.port: 1`) and nested (`rest: {port: 1}`) YAML. */
function flatten(obj: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && !isKey(key)) Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

/** Markdown table of every key, for docs/configuration.md. */
export function configDocs(): string {
  const lines = [
    "# Configuration",
    "",
    "Generated from `shared/src/config/schema.ts` by `npm run docs:config`; do not edit by hand.",
    "",
    "Each key can be set in `riffle.yaml` (flat `rest.port: 8082` or nested), as an environment variable",
    "(`RIFFLE_` + the key upper-cased with `.` and `-` replaced by `_`), or with `--set key=value` on any",
    "`riffle` command. Later sources win: defaults < file < environment < flags.",
    "Durations take `ms`, `s`, `m`, `h` (plain numbers are milliseconds); sizes take `b`, `kb`, `mb`, `gb`.",
    "",
    "| key | environment variable | default | meaning |",
    "|---|---|---|---|",
  ];
  for (const [key, def] of Object.entries(CONFIG_OPTIONS)) {
    lines.push(`| \`${key}\` | \`${envVarName(key)}\` | \`${JSON.stringify(def.default)}\` | ${def.doc} |`);
  }
  return `${lines.join("\n")}\n`;
}
