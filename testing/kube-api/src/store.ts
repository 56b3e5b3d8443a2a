import { randomUUID } from "node:crypto";

/** The part of an object every resource has: what the store reads and writes. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredEvent {
  type: WatchEventType;
  /** The resource (`pods`, `deployments`). */
  resource: string;
  /** A copy of the object as it was after the change (before it, for DELETED, with the deletion's resourceVersion). */
  object: KubeObject;
  /** The resourceVersion the change got. */
  rv: number;
}

export class StoreError extends Error {
  constructor(
    readonly reason: "NotFound" | "AlreadyExists" | "Conflict" | "Expired",
    message: string,
  ) {
    super(message);
  }
}

/**
 * The objects of the test API server, as etcd holds them for a real one: one resourceVersion counter
 * for every write (so versions order all changes, as etcd's revision does), and a bounded history of
 * changes from which watches resume. A watch from a version older than the history gets 410 Expired,
 * as a real server answers once etcd compacted it.
 */
export class ObjectStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<(e: StoredEvent) => void>();
  private rv = 1;
  /** Changes up to this version are no longer in the history (as etcd's compaction). */
  private compactedUpTo = 1;

  constructor(private readonly historyLimit = 1000) {}

  /** The newest resourceVersion (a list's). */
  get resourceVersion(): number {
    return this.rv;
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    const o = this.objects.get(key(resource, namespace, name));
    return o && structuredClone(o);
  }

  list(resource: string, namespace: string, selector?: { matches(o: KubeObject): boolean }): KubeObject[] {
    const prefix = `${resource}/${namespace}/`;
    const out: KubeObject[] = [];
    for (const [k, o] of this.objects) {
      if (k.startsWith(prefix) && (!selector || selector.matches(o))) out.push(structuredClone(o));
    }
    return out.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  }

  /** Stores a new object: name (or generateName), uid, creationTimestamp and resourceVersion are set here. */
  create(resource: string, namespace: string, object: KubeObject): KubeObject {
    const o = structuredClone(object);
    if (!o.metadata.name && o.metadata.generateName) o.metadata.name = o.metadata.generateName + randomUUID().replace(/-/g, "").slice(0, 5);
    const name = o.metadata.name!;
    if (this.objects.has(key(resource, namespace, name))) throw new StoreError("AlreadyExists", `${resource} "${name}" already exists`);
    o.metadata.namespace = namespace;
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    return this.write("ADDED", resource, namespace, o);
  }

  /**
   * Changes an object through `change` (on a copy). `expectedVersion`: refuse with Conflict unless the
   * stored object still has it (optimistic concurrency, as a real update with a resourceVersion).
   */
  update(resource: string, namespace: string, name: string, change: (o: KubeObject) => void, expectedVersion?: string): KubeObject {
    const current = this.objects.get(key(resource, namespace, name));
    if (!current) throw new StoreError("NotFound", `${resource} "${name}" not found`);
    if (expectedVersion !== undefined && current.metadata.resourceVersion !== expectedVersion) {
      throw new StoreError(
        "Conflict",
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const o = structuredClone(current);
    change(o);
    return this.write("MODIFIED", resource, namespace, o);
  }

  /** Removes an object at once; returns it as it was, with the deletion's resourceVersion. */
  remove(resource: string, namespace: string, name: string): KubeObject {
    const k = key(resource, namespace, name);
    const current = this.objects.get(k);
    if (!current) throw new StoreError("NotFound", `${resource} "${name}" not found`);
    this.objects.delete(k);
    const o = structuredClone(current);
    o.metadata.resourceVersion = String(++this.rv);
    this.record({ type: "DELETED", resource, object: o, rv: this.rv });
    return structuredClone(o);
  }

  /**
   * The changes to `resource` in `namespace` after version `since`, in order; throws Expired when the
   * history no longer reaches back that far.
   */
  since(resource: string, namespace: string, since: number): StoredEvent[] {
    if (since < this.compactedUpTo) throw new StoreError("Expired", `too old resource version: ${since} (${this.compactedUpTo})`);
    return this.history.filter((e) => e.rv > since && e.resource === resource && e.object.metadata.namespace === namespace);
  }

  /** Calls `listener` with every change from now on, synchronously in resourceVersion order. */
  subscribe(listener: (e: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private write(type: WatchEventType, resource: string, namespace: string, o: KubeObject): KubeObject {
    o.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key(resource, namespace, o.metadata.name!), o);
    this.record({ type, resource, object: structuredClone(o), rv: this.rv });
    return structuredClone(o);
  }

  private record(e: StoredEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) this.compactedUpTo = this.history.shift()!.rv;
    for (const l of this.listeners) l(e);
  }
}

function key(resource: string, namespace: string, name: string): string {
  return `${resource}/${namespace}/${name}`;
}
