import type { RiffleConfig } from "@riffle/shared";
import { configuredRestUrl, resolveConfig, type GlobalOptions } from "../options.js";
import { RestClient } from "../rest-client.js";

/** A REST client for `-m/--jobmanager` (already parsed to a URL), or for the configured REST address. */
export function clientFor(globals: GlobalOptions, jobmanager: string | undefined): RestClient {
  const config = resolveConfig(globals);
  return new RestClient(jobmanager ?? configuredRestUrl(config), restAuthOf(config));
}

/** The credentials the CLI sends: `rest.client.token`, else `rest.client.credentials`. */
export function restAuthOf(config: RiffleConfig): { token?: string; credentials?: string } {
  if (config["rest.client.token"]) return { token: config["rest.client.token"] };
  if (config["rest.client.credentials"]) return { credentials: config["rest.client.credentials"] };
  return {};
}
