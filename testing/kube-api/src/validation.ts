import { DeleteOptions } from "@kubernetes-models/apimachinery/apis/meta/v1/DeleteOptions";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Pod } from "kubernetes-models/v1/Pod";
import type { KubeObject } from "./store.js";

/** One thing wrong with a request body, as a real API server lists it in a Status's `details.causes`. */
export interface Cause {
  reason: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueNotSupported" | "FieldValueDuplicate" | "FieldValueTypeInvalid";
  message: string;
  field: string;
}

/**
 * Why a body is refused: `BadRequest` (400) for what a real server cannot even decode (a string where
 * a list belongs, a malformed quantity: Go's JSON decoder refuses those before validation), `Invalid`
 * (422) for what decodes but breaks the API's rules (a required field missing, a name that is no DNS
 * name, requests above limits).
 */
export class BodyRefused extends Error {
  constructor(
    readonly reason: "BadRequest" | "Invalid",
    message: string,
    readonly causes: Cause[],
  ) {
    super(message);
  }
}

/** The official schemas (kubernetes-models: the OpenAPI definitions of Kubernetes 1.x, compiled with ajv). */
const MODELS = {
  Pod: (data: KubeObject) => new Pod(data as never),
  Deployment: (data: KubeObject) => new Deployment(data as never),
  DeleteOptions: (data: KubeObject) => new DeleteOptions(data as never),
} as const;

export type ModelKind = keyof typeof MODELS;

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Checks `body` against the official schema of `kind`, then (for pods) a real API server's own
 * validation of what a schema cannot say. Throws BodyRefused.
 */
export function validateBody(kind: ModelKind, body: KubeObject): void {
  try {
    MODELS[kind](body).validate();
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!errors) throw err;
    const required = errors.filter((e) => e.keyword === "required");
    const undecodable = errors.filter((e) => e.keyword !== "required");
    if (undecodable.length > 0) {
      const causes = undecodable.map(
        (e): Cause => ({ reason: "FieldValueTypeInvalid", message: `Invalid value: ${e.message ?? e.keyword}`, field: fieldPath(e.instancePath) }),
      );
      throw new BodyRefused(
        "BadRequest",
        `${kind} in version "v1" cannot be handled as a ${kind}: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
        causes,
      );
    }
    const causes = required.map(
      (e): Cause => ({ reason: "FieldValueRequired", message: "Required value", field: join(fieldPath(e.instancePath), String(e.params.missingProperty)) }),
    );
    throw invalid(kind, body, causes);
  }
  if (kind === "DeleteOptions") return;
  const causes = validateMetadata(body);
  if (kind === "Pod") causes.push(...validatePodSpec(body));
  if (causes.length > 0) throw invalid(kind, body, causes);
}

function invalid(kind: string, body: KubeObject, causes: Cause[]): BodyRefused {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const name = body.metadata?.name ?? body.metadata?.generateName ?? "";
  return new BodyRefused("Invalid", `${kind} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(", ")}]`}`, causes);
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
/** The fields a pod's environment can take from the pod itself (the downward API). */
const FIELD_PATHS = new Set([
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.serviceAccountName",
  "status.hostIP",
  "status.hostIPs",
  "status.podIP",
  "status.podIPs",
]);

function validateMetadata(body: KubeObject): Cause[] {
  const causes: Cause[] = [];
  const m = body.metadata ?? {};
  if (!m.name && !m.generateName) {
    causes.push({ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" });
  } else if (m.name && (m.name.length > 253 || !DNS_SUBDOMAIN.test(m.name))) {
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(m.name)}: ${SUBDOMAIN_MSG}`, field: "metadata.name" });
  }
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    const [prefix, name] = k.includes("/") ? [k.slice(0, k.indexOf("/")), k.slice(k.indexOf("/") + 1)] : [undefined, k];
    if ((prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) || name.length === 0 || name.length > 63 || !LABEL_VALUE.test(name)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters, with an optional DNS subdomain prefix and '/'`,
        field: "metadata.labels",
      });
    }
    if (v.length > 63 || !LABEL_VALUE.test(v)) {
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(v)}: ${LABEL_VALUE_MSG}`, field: "metadata.labels" });
    }
  }
  const controllers = (m.ownerReferences ?? []).filter((r) => (r as { controller?: boolean }).controller === true);
  if (controllers.length > 1) {
    causes.push({
      reason: "FieldValueInvalid",
      message: "Invalid value: only one reference can have Controller set to true",
      field: "metadata.ownerReferences",
    });
  }
  return causes;
}

interface ContainerSpec {
  name: string;
  image?: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; [k: string]: unknown } }>;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
}

function validatePodSpec(body: KubeObject): Cause[] {
  const causes: Cause[] = [];
  const spec = body.spec as
    | { containers?: ContainerSpec[]; restartPolicy?: string; serviceAccountName?: string; terminationGracePeriodSeconds?: number }
    | undefined;
  if (!spec) return [{ reason: "FieldValueRequired", message: "Required value", field: "spec" }];
  if (!spec.containers || spec.containers.length === 0) causes.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.containers" });
  const names = new Set<string>();
  (spec.containers ?? []).forEach((c, i) => {
    const at = `spec.containers[${i}]`;
    if (!DNS_LABEL.test(c.name) || c.name.length > 63) {
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(c.name)}: ${LABEL_MSG}`, field: `${at}.name` });
    } else if (names.has(c.name)) {
      causes.push({ reason: "FieldValueDuplicate", message: `Duplicate value: ${JSON.stringify(c.name)}`, field: `${at}.name` });
    }
    names.add(c.name);
    if (!c.image) causes.push({ reason: "FieldValueRequired", message: "Required value", field: `${at}.image` });
    (c.env ?? []).forEach((e, j) => {
      const envAt = `${at}.env[${j}]`;
      if (!ENV_NAME.test(e.name)) {
        causes.push({
          reason: "FieldValueInvalid",
          message: `Invalid value: ${JSON.stringify(e.name)}: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit`,
          field: `${envAt}.name`,
        });
      }
      if (e.valueFrom) {
        if (e.value)
          causes.push({
            reason: "FieldValueInvalid",
            message: 'Invalid value: "": may not be specified when `value` is not empty',
            field: `${envAt}.valueFrom`,
          });
        const path = e.valueFrom.fieldRef?.fieldPath;
        if (path !== undefined && !FIELD_PATHS.has(path) && !/^metadata\.(labels|annotations)\['[^']+'\]$/.test(path)) {
          causes.push({
            reason: "FieldValueNotSupported",
            message: `Unsupported value: ${JSON.stringify(path)}`,
            field: `${envAt}.valueFrom.fieldRef.fieldPath`,
          });
        }
      }
    });
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    for (const q of [...Object.values(requests), ...Object.values(limits)]) {
      if (parseQuantity(q) < 0)
        causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${q}": must be greater than or equal to 0`, field: `${at}.resources` });
    }
    for (const [resource, request] of Object.entries(requests)) {
      const limit = limits[resource];
      if (limit !== undefined && parseQuantity(request) > parseQuantity(limit)) {
        causes.push({
          reason: "FieldValueInvalid",
          message: `Invalid value: "${request}": must be less than or equal to ${resource} limit of ${limit}`,
          field: `${at}.resources.requests`,
        });
      }
    }
  });
  if (spec.restartPolicy !== undefined && !["Always", "OnFailure", "Never"].includes(spec.restartPolicy)) {
    causes.push({
      reason: "FieldValueNotSupported",
      message: `Unsupported value: ${JSON.stringify(spec.restartPolicy)}: supported values: "Always", "OnFailure", "Never"`,
      field: "spec.restartPolicy",
    });
  }
  if (spec.serviceAccountName && !DNS_SUBDOMAIN.test(spec.serviceAccountName)) {
    causes.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(spec.serviceAccountName)}: ${SUBDOMAIN_MSG}`,
      field: "spec.serviceAccountName",
    });
  }
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    causes.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${spec.terminationGracePeriodSeconds}: must be greater than or equal to 0`,
      field: "spec.terminationGracePeriodSeconds",
    });
  }
  return causes;
}

const SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A resource quantity's value ("500m" → 0.5, "1Gi" → 2^30); the schema already checked its form. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = q.match(/^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/);
  if (!m) return Number.NaN;
  if (m[2]) return Number(m[1] + m[2]);
  return Number(m[1]) * SUFFIXES[m[3] ?? ""]!;
}

/** `/spec/containers/0/image` → `spec.containers[0].image`, as a real server names fields. */
function fieldPath(pointer: string): string {
  let out = "";
  for (const part of pointer.split("/").slice(1)) {
    const p = part.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  }
  return out;
}

function join(path: string, field: string): string {
  return path === "" ? field : `${path}.${field}`;
}
