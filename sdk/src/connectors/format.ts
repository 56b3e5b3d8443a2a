/** How sinks turn a record into a line: strings as they are, everything else as JSON. */
export function formatRecord(record: unknown): string {
  if (typeof record === "string") return record;
  if (typeof record === "bigint") return record.toString();
  return JSON.stringify(record) ?? String(record);
}
