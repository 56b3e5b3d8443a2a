import { ApiKey, defineApi } from "../protocol/api.js";
import { ErrorCode } from "../protocol/errors.js";

interface ApiVersionsResponse {
  errorCode: number;
  apis: Array<{ key: number; minVersion: number; maxVersion: number }>;
}

/**
 * ApiVersions v0-v3: the APIs and versions this broker serves; clients pick the highest version both
 * sides know. v3 is flexible (librdkafka asks with it first). A version above 3 is answered by the
 * connection with UNSUPPORTED_VERSION in v0's format, as Kafka does, so the client can retry lower.
 */
export const apiVersions = defineApi<null, ApiVersionsResponse>({
  key: ApiKey.ApiVersions,
  name: "ApiVersions",
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  decode(r, version) {
    if (version >= 3) {
      r.string(); // client software name
      r.string(); // client software version
      r.taggedFields();
    }
    return null;
  },
  handle(_req, ctx) {
    return { errorCode: ErrorCode.NONE, apis: ctx.broker.apis.map((a) => ({ key: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })) };
  },
  encode(w, version, res) {
    w.int16(res.errorCode);
    w.array(res.apis, (w, a) => {
      w.int16(a.key).int16(a.minVersion).int16(a.maxVersion);
      w.taggedFields();
    });
    if (version >= 1) w.int32(0);
    w.taggedFields();
  },
});

/** The answer to an ApiVersions request of a version this broker does not know: v0's format. */
export function encodeUnsupportedApiVersions(w: import("../protocol/wire.js").Writer, apis: ApiVersionsResponse["apis"]): void {
  w.flexible = false;
  w.int16(ErrorCode.UNSUPPORTED_VERSION);
  w.array(apis, (w, a) => w.int16(a.key).int16(a.minVersion).int16(a.maxVersion));
}
