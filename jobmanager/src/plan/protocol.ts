import type { JobGraph } from "@riffle/shared";
import type { BuildOptions } from "@riffle/sdk/internal";

/** What the plan worker receives as `workerData`. */
export interface PlanRequest {
  bundlePath: string;
  args: string[];
  buildOptions: BuildOptions;
}

/** The one message the plan worker posts back. */
export type PlanReply = { graph: JobGraph; error?: undefined } | { error: { code: string; message: string }; graph?: undefined };
