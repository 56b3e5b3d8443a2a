/**
 * A process that owns a TaskManager work directory and does nothing else, for tests of the sweep with
 * real processes (killed, left a zombie, in another PID namespace):
 *
 *   node --import tsx taskmanager/src/testing/work-directory-owner.ts <root> [<host hash>]
 *
 * Creates its directory under <root> (as a host named by <host hash>, when given: a pod replaced on
 * the same machine), prints the directory's path on stdout, writes a state file into it, and waits.
 * SIGTERM removes the directory and ends the process.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "@riffle/shared";
import { WorkDirectory, ownHost } from "../workdir/index.js";

const [root, host] = process.argv.slice(2);
if (!root) throw new Error("usage: work-directory-owner.ts <root> [<host hash>]");
const log = createLogger("work-directory-owner");
log.level = "warn";
const dir = await WorkDirectory.create(root, log, { ...ownHost(), ...(host ? { host } : {}) });
writeFileSync(join(dir.path, "000001.log"), "state");
process.stdout.write(`${dir.path}\n`);
const idle = setInterval(() => {}, 60_000);
process.once("SIGTERM", () => {
  clearInterval(idle);
  void dir.remove();
});
