/**
 * The TaskManager's work directory: created at start (after removing those of TaskManagers that are
 * gone), removed at shutdown.
 *
 * ```ts
 * const dir = await WorkDirectory.create(workDirectoryRoot(config["taskmanager.tmp.dir"]), log);
 * // ... bundles and state under dir.path ...
 * await dir.remove();
 * ```
 */
export { WorkDirectory, sweepWorkDirectories, workDirectoryRoot, workDirectoryOwner } from "./work-directory.js";
export { ownHost, type HostIdentity } from "./host-identity.js";
