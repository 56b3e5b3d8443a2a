/**
 * Label selectors in their string form (`?labelSelector=`), as apimachinery's labels.Parse reads them:
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by commas (all must hold).
 */
export interface LabelSelector {
  matches(labels: Record<string, string>): boolean;
}

type Requirement = (labels: Record<string, string>) => boolean;

/** Parses a selector; throws an Error saying what is wrong with it. */
export function parseLabelSelector(text: string): LabelSelector {
  const requirements: Requirement[] = [];
  for (const part of splitTopLevel(text)) {
    const p = part.trim();
    if (p === "") continue;
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(",").map((v) => v.trim()));
      requirements.push(op === "in" ? (l) => k in l && values.has(l[k]!) : (l) => !(k in l) || !values.has(l[k]!));
    } else if ((m = p.match(/^([^\s!=(),]+)\s*(!=|==|=)\s*([^\s!=(),]*)$/))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      requirements.push(op === "!=" ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = p.match(/^!\s*([^\s!=(),]+)$/))) {
      const k = m[1]!;
      requirements.push((l) => !(k in l));
    } else if ((m = p.match(/^([^\s!=(),]+)$/))) {
      const k = m[1]!;
      requirements.push((l) => k in l);
    } else {
      throw new Error(`unable to parse requirement: ${JSON.stringify(p)}`);
    }
  }
  return { matches: (labels) => requirements.every((r) => r(labels)) };
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** The fields a pod's field selector may name (a real server knows a few more). */
const FIELDS: Record<string, (o: { metadata: { name?: string; namespace?: string }; spec?: unknown; status?: unknown }) => string> = {
  "metadata.name": (o) => o.metadata.name ?? "",
  "metadata.namespace": (o) => o.metadata.namespace ?? "",
  "spec.nodeName": (o) => (o.spec as { nodeName?: string } | undefined)?.nodeName ?? "",
  "status.phase": (o) => (o.status as { phase?: string } | undefined)?.phase ?? "",
};

/**
 * Field selectors (`?fieldSelector=metadata.name=x`, as kubectl sends to wait for one object):
 * `field=value`, `field==value`, `field!=value`, joined by commas; throws on an unknown field.
 */
export function parseFieldSelector(text: string): (o: Parameters<(typeof FIELDS)[string]>[0]) => boolean {
  const tests = text
    .split(",")
    .filter((p) => p.trim() !== "")
    .map((part) => {
      const m = part.trim().match(/^([^!=\s]+)\s*(!=|==|=)\s*(.*)$/);
      if (!m) throw new Error(`invalid field selector: ${JSON.stringify(part)}`);
      const [, field, op, value] = m as unknown as [string, string, string, string];
      const read = FIELDS[field];
      if (!read) throw new Error(`field label not supported: ${field}`);
      return (o: Parameters<typeof read>[0]) => (read(o) === value) === (op !== "!=");
    });
  return (o) => tests.every((t) => t(o));
}
