import { RiffleError, toRiffleError } from "@riffle/shared";

export interface HttpError {
  status: number;
  body: { code: string; message: string };
}

/** Fastify's own request errors, worded for a user of the API. */
const FASTIFY_MESSAGES: Record<string, (err: Error) => string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: (err) => `malformed JSON body: ${err.message}`,
  FST_ERR_CTP_EMPTY_JSON_BODY: () => "the body is empty but the content type is application/json",
  FST_ERR_CTP_BODY_TOO_LARGE: () => "the request body is larger than rest.body-limit allows",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: (err) => `${err.message}; send JSON with content-type application/json`,
};

/**
 * Every error the REST API returns as `{code, message}`: RiffleErrors with their code and status,
 * request errors found by fastify (bad JSON, too large, wrong content type) as BAD_REQUEST with
 * fastify's status, anything else as INTERNAL.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof RiffleError) return { status: err.httpStatus, body: err.toJSON() };
  const e = err as Error & { statusCode?: number; code?: string };
  if (err instanceof SyntaxError) return { status: 400, body: { code: "BAD_REQUEST", message: `malformed JSON body: ${e.message}` } };
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const word = e.code ? FASTIFY_MESSAGES[e.code] : undefined;
    return { status: e.statusCode, body: { code: "BAD_REQUEST", message: word ? word(e) : e.message } };
  }
  const r = toRiffleError(err);
  return { status: r.httpStatus, body: r.toJSON() };
}
