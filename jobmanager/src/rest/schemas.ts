import { RiffleError } from "@riffle/shared";
import { z } from "zod";

export const submitJobBody = z.object({
  bundle: z.base64().min(1, "the job bundle is empty"),
  name: z.string().optional(),
  parallelism: z.number().int().min(1).max(32768).optional(),
  args: z.array(z.string()).optional(),
  savepointPath: z.string().min(1, "savepointPath is empty").optional(),
  allowNonRestoredState: z.boolean().optional(),
});

/** POST /jobs/:id/savepoints, Flink's field names. */
export const savepointBody = z.object({
  "target-directory": z.string().min(1, "target-directory is empty").optional(),
  "cancel-job": z.boolean().optional(),
});

/** POST /jobs/:id/stop, Flink's field names. */
export const stopBody = z.object({
  targetDirectory: z.string().min(1, "targetDirectory is empty").optional(),
  drain: z.boolean().optional(),
});

export const triggerParams = z.object({ id: z.string(), triggerId: z.string() });

export const rescaleQuery = z.object({
  parallelism: z.coerce.number({ error: "parallelism must be a number" }).int("parallelism must be an integer").min(1, "parallelism must be at least 1"),
});

export const jobIdParams = z.object({ id: z.string() });

export const vertexParams = z.object({ id: z.string(), vid: z.string() });

export const taskmanagerIdParams = z.object({ id: z.string() });

export const cancelQuery = z.object({
  mode: z.literal("cancel", { error: 'mode must be "cancel" (PATCH /jobs/:id?mode=cancel)' }),
});

export const resultsQuery = z.object({
  cursor: z.coerce.number().int().min(0).default(0),
});

/** Parses request input with a schema; failures become BAD_REQUEST naming each bad field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : what}: ${i.message}`);
  throw new RiffleError("BAD_REQUEST", `invalid ${what}: ${issues.join("; ")}`);
}
