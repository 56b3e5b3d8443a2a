import { createHash, timingSafeEqual } from "node:crypto";
import { RiffleError, type RiffleConfig } from "@riffle/shared";
import type { Access, Role } from "@riffle/shared/rest-api";

/**
 * Access control of the REST API and the dashboard (`rest.auth.*`). Off until a credential is
 * configured; then each request's `Authorization` header (`Bearer <token>` or `Basic
 * <base64 user:password>`) gives it a role, and each route says which role it needs (see `Access` in
 * @riffle/shared/rest-api). Callers without credentials get `rest.auth.anonymous` (none, or read-only):
 * never the operator role, so submitting a job (a bundle is code) always needs an operator's
 * credentials once auth is on.
 */
export class RestAuth {
  private constructor(
    private readonly credentials: ReadonlyArray<{ scheme: "bearer" | "basic"; digest: Buffer; role: Role }>,
    readonly anonymous: Role | null,
  ) {}

  static fromConfig(config: RiffleConfig): RestAuth {
    const entries: Array<{ scheme: "bearer" | "basic"; digest: Buffer; role: Role }> = [];
    const add = (scheme: "bearer" | "basic", secret: string, role: Role) => {
      if (secret !== "") entries.push({ scheme, digest: digest(secret), role });
    };
    add("bearer", config["rest.auth.operator-token"], "operator");
    add("bearer", config["rest.auth.read-only-token"], "read-only");
    add("basic", config["rest.auth.operator-credentials"], "operator");
    add("basic", config["rest.auth.read-only-credentials"], "read-only");
    return new RestAuth(entries, config["rest.auth.anonymous"] === "read-only" ? "read-only" : null);
  }

  get enabled(): boolean {
    return this.credentials.length > 0;
  }

  /**
   * The role an `Authorization` header grants: null without one, or without auth configured.
   * Throws UNAUTHORIZED for credentials that match none configured.
   */
  roleOf(authorization: string | undefined): Role | null {
    if (!this.enabled || !authorization) return null;
    const space = authorization.indexOf(" ");
    const scheme = authorization.slice(0, space < 0 ? undefined : space).toLowerCase();
    const value = space < 0 ? "" : authorization.slice(space + 1).trim();
    let secret: string;
    if (scheme === "bearer") secret = value;
    else if (scheme === "basic") secret = Buffer.from(value, "base64").toString("utf8");
    else throw new RiffleError("UNAUTHORIZED", `unsupported authorization scheme "${scheme}"; send "Bearer <token>" or "Basic <base64 of user:password>"`);
    const d = digest(secret);
    // Every configured entry is compared, in constant time each, so timing tells nothing of which matched.
    let role: Role | null = null;
    for (const c of this.credentials) {
      if (c.scheme === scheme && timingSafeEqual(c.digest, d) && role !== "operator") role = c.role;
    }
    if (role === null) throw new RiffleError("UNAUTHORIZED", `the ${scheme === "bearer" ? "token" : "user or password"} is not valid for this JobManager`);
    return role;
  }

  /** Throws UNAUTHORIZED (no or wrong credentials) or FORBIDDEN (read-only for an operator's route) unless allowed. */
  check(access: Access, authorization: string | undefined, what: string): void {
    if (!this.enabled || access === "open") return;
    const role = this.roleOf(authorization);
    if (role === null) {
      if (access === "read-only" && this.anonymous === "read-only") return;
      throw new RiffleError(
        "UNAUTHORIZED",
        `${what} needs ${access === "operator" ? "an operator's " : ""}credentials: send "Authorization: Bearer <token>" or HTTP basic credentials configured in rest.auth.*`,
      );
    }
    if (access === "operator" && role !== "operator") {
      throw new RiffleError("FORBIDDEN", `${what} needs the operator role; these credentials are read-only`);
    }
  }
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}
