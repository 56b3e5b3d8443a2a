import type { RiffleConfig, StateBackendName } from "@riffle/shared";
import { checkpointDefaultsFromConfig, type CheckpointDefaults } from "../checkpoint/index.js";
import { restartDefaultsFromConfig, type ExponentialBackoffDefaults } from "./restart-strategy.js";

/** The cluster's defaults for what a job graph may leave unset. */
export interface JobDefaults {
  /** `state.backend`. */
  stateBackend: StateBackendName;
  checkpoints: CheckpointDefaults;
  restart: ExponentialBackoffDefaults;
}

export function jobDefaultsFromConfig(config: RiffleConfig): JobDefaults {
  return {
    stateBackend: config["state.backend"],
    checkpoints: checkpointDefaultsFromConfig(config),
    restart: restartDefaultsFromConfig(config),
  };
}
