import type { JobGraph } from "@riffle/shared";
import type { BuildOptions } from "@riffle/sdk/internal";

/** What the plan worker receives, one message per plan. */
export interface PlanRequest {
  bundlePath: string;
  args: string[];
  buildOptions: BuildOptions;
  /**
   * A rescale's parallelism: it wins over the job's own env.setParallelism (buildOptions.parallelism
   * does not), while operators with an explicit setParallelism(...) and sources that cannot run
   * wider (collections) keep theirs.
   */
  parallelismOverride?: number | undefined;
}

/** The message the plan worker posts back for each request. */
export type PlanReply = { graph: JobGraph; error?: undefined } | { error: { code: string; message: string }; graph?: undefined };
