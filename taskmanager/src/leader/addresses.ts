import { RiffleError, parseHostPort } from "@riffle/shared";

/**
 * The JobManager addresses a TaskManager tries to register with: `taskmanager.jobmanager.address`
 * (one `host:port`, or several separated by commas for the JobManagers of a highly available
 * cluster), else `jobmanager.rpc.address:jobmanager.rpc.port`. CONFIG_INVALID for an entry that is
 * not `host:port`.
 */
export function jobManagerAddresses(configured: string, fallback: string): string[] {
  const list = configured
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a.length > 0);
  if (list.length === 0) return [fallback];
  for (const a of list) {
    try {
      parseHostPort(a);
    } catch {
      throw new RiffleError("CONFIG_INVALID", `taskmanager.jobmanager.address: "${a}" is not host:port (give one or several separated by commas)`);
    }
  }
  return list;
}
