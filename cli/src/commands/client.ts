import { configuredRestUrl, resolveConfig, type GlobalOptions } from "../options.js";
import { RestClient, restAuthOf } from "../rest-client.js";

/** A REST client for `-m/--jobmanager` (already parsed to a URL), or for the configured REST address. */
export function clientFor(globals: GlobalOptions, jobmanager: string | undefined): RestClient {
  const config = resolveConfig(globals);
  return new RestClient(jobmanager ?? configuredRestUrl(config), restAuthOf(config));
}
