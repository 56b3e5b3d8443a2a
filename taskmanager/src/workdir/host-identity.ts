import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * The kernel and host a TaskManager runs on, as its work directory's name records them. Neither
 * identifies a process: containers share their host's kernel (and so its boot id), and two of them
 * may have the same host name. They only say whether the directory's owner can be asked at all
 * (decision in work-directory.ts).
 */
export interface HostIdentity {
  /** The host's name, hashed: short, and free of characters a file name cannot hold. */
  host: string;
  /**
   * The kernel's boot id (Linux's /proc/sys/kernel/random/boot_id, the same in every container of the
   * machine), hashed; "0" when unknown. Another boot id is another kernel: another machine, or an
   * earlier boot of this one.
   */
  boot: string;
}

export const UNKNOWN_BOOT = "0";

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

function bootId(): string {
  try {
    return shortHash(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
  } catch {
    return UNKNOWN_BOOT;
  }
}

/** The identity of the host this process runs on. */
export function ownHost(): HostIdentity {
  return { host: shortHash(hostname()), boot: bootId() };
}
