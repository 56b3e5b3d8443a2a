import { RiffleError } from "@riffle/shared";
import { routes } from "@riffle/shared/rest-api";
import type { RestApp, RestContext } from "../rest/context.js";
import { routeOptions } from "../rest/route-options.js";

/**
 * GET /jobs/:id/autoscaler. A job the autoscaler has not looked at yet (just submitted, or just taken
 * over by this leader) shows as waiting, with what its record holds of earlier leaders' decisions.
 */
export function registerAutoscalerRoutes(app: RestApp, ctx: RestContext): void {
  app.route({
    ...routeOptions(routes.jobAutoscaler),
    handler: async (req) => {
      // The leader part of the moment (NOT_LEADER without one).
      const job = ctx.dispatcher.job(req.params.id);
      const a = ctx.autoscaler.forJob(job.id);
      if (!a) {
        if (job.isTerminal) throw new RiffleError("JOB_NOT_RUNNING", `job ${job.id} ended (${job.status}) before the autoscaler looked at it`);
        return {
          enabled: false,
          mode: "disabled" as const,
          state: "waiting" as const,
          stateSince: job.record.submittedAt,
          reason: "the autoscaler has not looked at the job yet",
          metricsWindow: { samples: 0, since: null, full: false },
          lastEvaluation: null,
          vertices: [],
          history: job.record.autoscaler?.history ?? [],
          counts: job.record.autoscaler?.counts ?? { rescales: 0, failures: 0, skipped: 0 },
        };
      }
      return a.status(job.graph);
    },
  });
}
