import { RiffleError, toRiffleError } from "@riffle/shared";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";

export interface HttpError {
  status: number;
  body: { code: string; message: string };
}

/** The request's parts as fastify's validationContext names them. */
const PARTS: Record<string, string> = { body: "request body", params: "path", querystring: "query", headers: "headers" };

/** Fastify's own request errors, worded for a user of the API. */
const FASTIFY_MESSAGES: Record<string, (err: Error) => string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: (err) => `malformed JSON body: ${err.message}`,
  FST_ERR_CTP_EMPTY_JSON_BODY: () => "the body is empty but the content type is application/json",
  FST_ERR_CTP_BODY_TOO_LARGE: () => "the request body is larger than rest.body-limit allows",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (err) => `${err.message}; send JSON with content-type application/json`,
};

/**
 * Every error the REST API returns as `{code, message}`: RiffleErrors with their code and status,
 * requests that fail their route's schema as BAD_REQUEST naming each bad field, request errors found
 * by fastify (bad JSON, too large, wrong content type) as BAD_REQUEST with fastify's status, anything
 * else as INTERNAL.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof RiffleError) return { status: err.httpStatus, body: err.toJSON() };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const what = PARTS[(err as { validationContext?: string }).validationContext ?? ""] ?? "request";
    const issues = err.validation.map((i) => (i.instancePath.length > 1 ? `${i.instancePath.slice(1).replaceAll("/", ".")}: ${i.message}` : i.message));
    return { status: 400, body: { code: "BAD_REQUEST", message: `invalid ${what}: ${issues.join("; ")}` } };
  }
  const e = err as Error & { statusCode?: number; code?: string };
  if (err instanceof SyntaxError) return { status: 400, body: { code: "BAD_REQUEST", message: `malformed JSON body: ${e.message}` } };
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const word = e.code ? FASTIFY_MESSAGES[e.code] : undefined;
    return { status: e.statusCode, body: { code: "BAD_REQUEST", message: word ? word(e) : e.message } };
  }
  const r = toRiffleError(err);
  return { status: r.httpStatus, body: r.toJSON() };
}
