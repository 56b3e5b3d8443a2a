export { CONFIG_OPTIONS, envVarName, type ConfigKey, type RiffleConfig } from "./schema.js";
export { loadConfig, parseSetFlags, configDocs, type LoadConfigOptions } from "./load.js";
