import type { CallOptions } from "@grpc/grpc-js";
import { RiffleError, type Logger } from "@riffle/shared";
import { ConsecutiveBreaker, ConstantBackoff, ExponentialBackoff, circuitBreaker, handleWhen, isBrokenCircuitError, retry } from "cockatiel";
import { Etcd3, GRPCDeadlineExceededError, GRPCNotImplementedError, isRecoverableError, type IOptions, type Namespace } from "etcd3";
import { etcdKeyPrefix } from "../config.js";

export interface EtcdConnectionOptions {
  endpoints: string[];
  clusterId: string;
  /** Deadline of every request. */
  callTimeoutMs: number;
  logger: Logger;
}

/**
 * After three failed calls in a row, an endpoint is skipped for this long (the etcd3 client's
 * default of 5 s would make every call fail fast for 5 s after etcd came back: longer than a lease).
 */
const BREAKER_HALF_OPEN_MS = 500;
/** Watches reconnect after a lost stream from this delay, doubling up to the maximum (the client's default maximum is 30 s). */
const WATCH_BACKOFF = { initialDelay: 50, maxDelay: 1_000 };

/**
 * The etcd client of one cluster: every key under `/riffle/<cluster-id>/`, every request with a
 * deadline, and every failure a RiffleError naming the endpoints.
 *
 * Fault handling, configured instead of the etcd3 client's defaults: a request is retried on another
 * endpoint after a network failure, within its one deadline (the deadline is absolute, so retries
 * cannot extend it, and a request that ran out of it is not retried); an endpoint that failed three times in a row is skipped for 500 ms; watches
 * reconnect within a second. Watch streams have no deadline (they live as long as their watcher and
 * replay what they missed when they reconnect); everything that waits on one is bounded by a lease.
 */
export class EtcdConnection {
  readonly client: Etcd3;
  /** The cluster's keys: every key used through it is relative to `prefix`. */
  readonly ns: Namespace;
  readonly prefix: string;
  readonly endpoints: readonly string[];
  readonly callTimeoutMs: number;
  readonly logger: Logger;
  private closed = false;

  constructor(options: EtcdConnectionOptions) {
    this.endpoints = options.endpoints;
    this.callTimeoutMs = options.callTimeoutMs;
    this.logger = options.logger;
    this.prefix = etcdKeyPrefix(options.clusterId);
    const etcdOptions: IOptions = {
      hosts: [...options.endpoints],
      // A backstop: requests made here all pass their own deadline.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + options.callTimeoutMs }),
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: BREAKER_HALF_OPEN_MS, breaker: new ConsecutiveBreaker(3) }),
        // Not after a deadline: it is absolute, so a retry could only fail at once, and each failure
        // counts against the endpoint's breaker and resets its connections.
        global: retry(
          handleWhen((err) => isRecoverableError(err) && !(err instanceof GRPCDeadlineExceededError)),
          { maxAttempts: options.endpoints.length, backoff: new ConstantBackoff(20) },
        ),
        // Typed as a backoff, used as a factory (`.next()`): cockatiel's ExponentialBackoff is one.
        watchBackoff: new ExponentialBackoff(WATCH_BACKOFF) as unknown as NonNullable<IOptions["faultHandling"]>["watchBackoff"],
      },
    };
    this.client = new Etcd3(etcdOptions);
    this.ns = this.client.namespace(this.prefix);
  }

  /** `endpoints` as one string for messages. */
  get where(): string {
    return this.endpoints.join(", ");
  }

  /**
   * Runs one request under a deadline shared by its retries (`timeoutMs`, the call timeout by
   * default); a failure becomes HA_UNAVAILABLE (unreachable, too slow) or HA_STORAGE_FAILED (etcd
   * answered with an error), naming `what` and the endpoints.
   */
  async call<T>(what: string, run: (options: CallOptions) => Promise<T>, timeoutMs = this.callTimeoutMs): Promise<T> {
    if (this.closed) throw new RiffleError("HA_UNAVAILABLE", `cannot ${what}: the etcd connection is closed`);
    const budget = Math.max(1, Math.round(timeoutMs));
    const deadline = Date.now() + budget;
    let timer: NodeJS.Timeout | undefined;
    // The client honours the deadline; this timer only guards against a wait outside any call (a
    // connection being set up), so it fires a little after it.
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GRPCDeadlineExceededError("no answer before the deadline")), budget + 100);
    });
    const request = run({ deadline });
    request.catch(() => {}); // a late failure after the guard fired is already reported
    try {
      return await Promise.race([request, guard]);
    } catch (err) {
      throw this.failure(what, err, budget);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The RiffleError for a failed request. */
  failure(what: string, err: unknown, timeoutMs = this.callTimeoutMs): RiffleError {
    if (err instanceof RiffleError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof GRPCDeadlineExceededError) {
      return new RiffleError("HA_UNAVAILABLE", `etcd at ${this.where} did not answer within ${timeoutMs} ms (${what})`, { cause: err });
    }
    if (err instanceof Error && (isRecoverableError(err) || isBrokenCircuitError(err))) {
      return new RiffleError("HA_UNAVAILABLE", `etcd unreachable at ${this.where} (${what}): ${message}`, { cause: err });
    }
    return new RiffleError("HA_STORAGE_FAILED", `etcd at ${this.where} refused to ${what}: ${message}`, { cause: err });
  }

  /**
   * Asks each endpoint for its status. Resolves with the etcd version once one answered; rejects
   * with CONFIG_INVALID when an endpoint answered but is not etcd (a wrong port, another service),
   * and with HA_UNAVAILABLE when none could be reached.
   */
  async check(): Promise<{ version: string }> {
    try {
      const status = await this.call("read the member status", (options) => this.client.maintenance.status(options));
      return { version: status.version };
    } catch (err) {
      const cause = err instanceof RiffleError ? err.cause : err;
      const message = cause instanceof Error ? cause.message : String(cause);
      // grpc-js calls an HTTP/1 answer a protocol error; an HTTP/2 server without etcd's service answers UNIMPLEMENTED.
      if (cause instanceof GRPCNotImplementedError || /Protocol error/i.test(message)) {
        throw new RiffleError(
          "CONFIG_INVALID",
          `high-availability.etcd.endpoints: ${this.where} answered, but not as etcd (${message}); check the host and the client port (etcd's default is 2379)`,
          { cause },
        );
      }
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}
