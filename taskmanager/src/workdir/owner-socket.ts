import { closeSync, openSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { RiffleError } from "@riffle/shared";

/**
 * Whether the owner of a work directory still runs, asked without a pid: the owner listens on a Unix
 * socket beside its directory for as long as it lives, and the kernel closes that socket when the
 * process ends, however it ends (SIGKILL, OOM killer, zombie not yet reaped). A connection then tells:
 *
 *   connected       the owner runs (a frozen owner too: the kernel queues the connection)
 *   ECONNREFUSED    nobody listens: the owner is gone
 *   ENOENT          no socket: nothing to go on
 *   anything else   (no permission, a full queue, no answer in time) nothing to go on either
 *
 * A pid would only mean something in its own PID namespace, and containers on one machine share the
 * root of their temporary directories often enough (a hostPath, two containers of one pod); a socket
 * file is the same file in every namespace of the kernel that bound it. It says nothing across
 * kernels: on a directory shared between machines, a socket bound on another machine refuses
 * connections from this one. The caller asks only about owners of the same kernel.
 */
export type OwnerAnswer = "alive" | "gone" | "absent" | "unknown";

/** How long a probe waits for the kernel's answer (it is immediate, unless something is badly wrong). */
const PROBE_TIMEOUT_MS = 1000;

/** Listens on `address` as the owner of a work directory, until closed (which removes the socket file). */
export function listenAsOwner(address: string): Promise<Server> {
  // A probe needs only the connection; the answer is that it was accepted.
  const server = createServer((connection) => connection.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address, () => {
      server.off("error", reject);
      // A failed accept (no file descriptors left) must not end the TaskManager: the prober was
      // already queued by the kernel, so it learned what it needed.
      server.on("error", () => {});
      // The socket must not keep the process alive by itself.
      server.unref();
      resolve(server);
    });
  });
}

/** Asks whether the owner listening at `address` still runs. */
export function probeOwner(address: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<OwnerAnswer> {
  return new Promise((resolve) => {
    const socket = connect(address);
    const answer = (a: OwnerAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => answer("unknown"), timeoutMs);
    socket.once("connect", () => answer("alive"));
    socket.once("error", (err: NodeJS.ErrnoException) => answer(err.code === "ECONNREFUSED" ? "gone" : err.code === "ENOENT" ? "absent" : "unknown"));
  });
}

/**
 * A Unix socket address holds at most 107 bytes on Linux and 103 on macOS, and Node silently cuts a
 * longer path (the socket would then be bound elsewhere). So a socket in a directory with a long path
 * is reached on Linux through an open descriptor of the directory (`/proc/self/fd/<fd>/<name>`);
 * elsewhere such a directory is refused.
 */
const MAX_SOCKET_PATH = 103;

/** Socket addresses of files in one directory, short enough whatever the directory's path. */
export class SocketDirectory {
  private fd: number | undefined;

  constructor(readonly dir: string) {}

  address(name: string): string {
    const path = join(this.dir, name);
    if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return path;
    if (process.platform !== "linux") {
      throw new RiffleError(
        "WORKDIR_FAILED",
        `the path ${path} is too long for a Unix socket (${MAX_SOCKET_PATH} bytes at most); set taskmanager.tmp.dir to a shorter directory`,
      );
    }
    this.fd ??= openSync(this.dir, "r");
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  /** Only once no socket reached through it is needed any more (a listening one is unlinked through it when closed). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
