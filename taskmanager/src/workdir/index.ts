/**
 * The TaskManager's work directory: created at start (after removing those of TaskManagers that are
 * gone), removed at shutdown.
 *
 * ```ts
 * const dir = createWorkDirectory(workDirectoryRoot(config["taskmanager.tmp.dir"]), log);
 * // ... bundles and state under dir ...
 * removeWorkDirectory(dir, log);
 * ```
 */
export { createWorkDirectory, removeWorkDirectory, sweepWorkDirectories, workDirectoryRoot, ownerOf } from "./work-directory.js";
export { ownIdentity, mayBeAlive, startTimeOf, type ProcessIdentity } from "./process-identity.js";
