import { InvalidArgumentError, type Command } from "commander";
import { loadConfig, parseSetFlags, type RiffleConfig } from "@riffle/shared";

/** Options every command accepts: a configuration file and `--set key=value` overrides. */
export interface GlobalOptions {
  /** `--config <file>`: a riffle.yaml (default ./riffle.yaml when it exists). */
  config: string | undefined;
  /** `--set key=value`, in the order given. */
  set: string[];
}

/** Default REST port of a JobManager when `--jobmanager` names only a host. */
export const DEFAULT_REST_PORT = 8081;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Adds `--config` and `--set` to a command. */
export function addGlobalOptions(command: Command): Command {
  return command
    .option("--config <file>", "configuration file (default: ./riffle.yaml if it exists)")
    .option("--set <key=value>", "set a configuration key, e.g. --set rest.port=8082 (repeatable)", collect);
}

/**
 * The global options of a command and its ancestors (`riffle --set a=1 list --set b=2`): the nearest
 * `--config` wins, `--set` values accumulate from the outermost command inwards.
 */
export function globalOptions(command: Command): GlobalOptions {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.unshift(c);
  let config: string | undefined;
  const set: string[] = [];
  for (const c of chain) {
    const opts = c.opts<{ config?: string; set?: string[] }>();
    if (opts.config !== undefined) config = opts.config;
    if (opts.set) set.push(...opts.set);
  }
  return { config, set };
}

/**
 * Loads the configuration for a command: defaults < file < RIFFLE_* variables < `--set` < the
 * command's named flags (`flags`, by key; undefined values are skipped).
 */
export function resolveConfig(globals: GlobalOptions, flags: Partial<Record<string, unknown>> = {}): RiffleConfig {
  const overrides: Record<string, unknown> = { ...parseSetFlags(globals.set) };
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) overrides[key] = value;
  return loadConfig({ file: globals.config, overrides });
}

/** The host a client should connect to for a server bound to `bindAddress` (a wildcard means this machine). */
export function connectHost(bindAddress: string): string {
  if (bindAddress === "0.0.0.0" || bindAddress === "") return "127.0.0.1";
  if (bindAddress === "::" || bindAddress === "[::]") return "[::1]";
  return bindAddress.includes(":") && !bindAddress.startsWith("[") ? `[${bindAddress}]` : bindAddress;
}

/** The JobManager REST URL the configuration points at (`rest.bind-address` and `rest.port`). */
export function configuredRestUrl(config: RiffleConfig): string {
  return `http://${connectHost(config["rest.bind-address"])}:${config["rest.port"]}`;
}

/**
 * Parses a `--jobmanager` value into a base URL: `host:port`, `host` (port 8081), `[::1]:8081` or a
 * full `http(s)://` URL. Throws commander's InvalidArgumentError, so a bad value is a usage error.
 */
export function parseRestAddress(value: string): string {
  const raw = value.trim();
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `http://${raw}`);
  } catch {
    throw new InvalidArgumentError(`expected host:port of the JobManager's REST API, got "${value}"`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "" || url.username || url.search || url.hash) {
    throw new InvalidArgumentError(`expected host:port of the JobManager's REST API, got "${value}"`);
  }
  // Without a scheme the port defaults to the REST port, not to 80 (`new URL` hides an explicit :80).
  const port = url.port !== "" ? url.port : hasScheme ? "" : /^[^/]*:80(\/|$)/.test(raw.replace(/^\[[^\]]*\]/, "")) ? "80" : String(DEFAULT_REST_PORT);
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.protocol}//${url.hostname}${port ? `:${port}` : ""}${path}`;
}

/**
 * Parses a `--jobmanager` value that may name several JobManagers (a highly available cluster),
 * separated by commas, each as parseRestAddress takes it; the base URLs come back comma-separated.
 */
export function parseRestAddresses(value: string): string {
  const parts = value.split(",").filter((p) => p.trim() !== "");
  if (parts.length === 0) throw new InvalidArgumentError(`expected host:port of the JobManager's REST API, got "${value}"`);
  return parts.map(parseRestAddress).join(",");
}

/** A commander argument parser for integers of at least `min`. */
export function intArg(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    }
    return n;
  };
}
