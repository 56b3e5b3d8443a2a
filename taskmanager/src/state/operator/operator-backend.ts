import { storageHint } from "../snapshot-format.js";
import { mkdir, open, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { RiffleError, decodeValue, describeError, encodeValue } from "@riffle/shared";
import type { ListState, ListStateDescriptor, OperatorStateMode, OperatorStateStore } from "@riffle/sdk";
import type { OperatorStateHandle, SnapshotCapture } from "../handles.js";
import { OperatorListState } from "./operator-list-state.js";
import { type OperatorStatePartition, redistributeOperatorState } from "./redistribute.js";

export interface OperatorStateBackendOptions {
  /** This subtask's index: names its snapshot file and picks its share on restore. */
  subtaskIndex: number;
  /** The operator's (new) parallelism. */
  parallelism: number;
}

const FORMAT_VERSION = 1;

interface OperatorStateFile {
  version: number;
  states: { name: string; mode: OperatorStateMode; elements: unknown[] }[];
}

/**
 * Operator (non-keyed) list state of one subtask: small named lists (source offsets, pending
 * transactions), snapshotted whole into one file and redistributed on restore by each list's mode.
 */
export class OperatorStateBackend implements OperatorStateStore {
  private readonly lists = new Map<string, OperatorListState<unknown>>();
  private readonly subtaskIndex: number;
  private readonly parallelism: number;

  constructor(options: OperatorStateBackendOptions) {
    const { subtaskIndex, parallelism } = options;
    if (!Number.isInteger(parallelism) || parallelism < 1 || !Number.isInteger(subtaskIndex) || subtaskIndex < 0 || subtaskIndex >= parallelism) {
      throw new RiffleError("INTERNAL", `invalid subtask ${subtaskIndex} of parallelism ${parallelism}`);
    }
    this.subtaskIndex = subtaskIndex;
    this.parallelism = parallelism;
  }

  getListState<T>(descriptor: string | ListStateDescriptor<T>): ListState<T> {
    return this.list<T>(descriptor, "split");
  }

  getUnionListState<T>(descriptor: string | ListStateDescriptor<T>): ListState<T> {
    return this.list<T>(descriptor, "union");
  }

  has(name: string): boolean {
    return this.lists.has(name);
  }

  /** The synchronous part encodes everything: elements may be changed in place right after it, and operator state is small. */
  snapshot(): SnapshotCapture<OperatorStateHandle> {
    const file: OperatorStateFile = { version: FORMAT_VERSION, states: [] };
    const states: OperatorStateHandle["states"] = {};
    for (const list of this.lists.values()) {
      file.states.push({ name: list.name, mode: list.mode, elements: list.elements });
      states[list.name] = { mode: list.mode, count: list.elements.length };
    }
    const bytes = encodeValue(file);
    const path = `operator-${this.subtaskIndex}.msgpack`;
    return {
      write: async (dir) => {
        await writeDurably(dir, path, bytes);
        return { kind: "operator", path, size: bytes.length, states };
      },
      discard: () => {},
    };
  }

  /**
   * Restores from the snapshots of every old subtask (`handles[i]` from old subtask i, whatever the
   * old parallelism), redistributed to this subtask by each list's mode.
   */
  async restore(dir: string, handles: readonly OperatorStateHandle[]): Promise<void> {
    const previous: OperatorStatePartition[] = [];
    for (const handle of handles) previous.push(await readPartition(dir, handle));
    const mine = redistributeOperatorState(previous, this.parallelism)[this.subtaskIndex]!;
    for (const [name, { mode, elements }] of mine) {
      const list = new OperatorListState<unknown>(name, mode);
      list.elements = elements;
      this.lists.set(name, list);
    }
  }

  private list<T>(descriptor: string | ListStateDescriptor<T>, mode: OperatorStateMode): ListState<T> {
    const name = typeof descriptor === "string" ? descriptor : descriptor?.name;
    if (typeof name !== "string" || name.length === 0) throw new RiffleError("STATE_INVALID_ARGUMENT", "operator list state needs a non-empty name");
    const existing = this.lists.get(name);
    if (existing !== undefined) {
      if (existing.mode !== mode) {
        throw new RiffleError(
          "STATE_INCOMPATIBLE",
          `operator state '${name}' is ${existing.mode === "union" ? "union list state (getUnionListState)" : "list state (getListState)"}; it cannot be used as ${mode === "union" ? "union list state" : "list state"}`,
        );
      }
      return existing as OperatorListState<T>;
    }
    const list = new OperatorListState<T>(name, mode);
    this.lists.set(name, list as OperatorListState<unknown>);
    return list;
  }
}

async function writeDurably(dir: string, name: string, bytes: Buffer): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const file = await open(join(dir, name), "w");
    try {
      await file.writeFile(bytes);
      await file.datasync();
    } finally {
      await file.close();
    }
  } catch (err) {
    throw new RiffleError("STATE_BACKEND_FAILED", `cannot write operator state ${join(dir, name)}: ${describeError(err)}${storageHint(err)}`, { cause: err });
  }
}

async function readPartition(dir: string, handle: OperatorStateHandle): Promise<OperatorStatePartition> {
  const path = resolve(dir, handle.path);
  const fail = (why: string, cause?: unknown) => new RiffleError("STATE_RESTORE_FAILED", `operator state ${path}: ${why}`, { cause });
  let file: OperatorStateFile;
  try {
    const bytes = await readFile(path);
    if (bytes.length !== handle.size) throw fail(`is ${bytes.length} bytes, but the checkpoint recorded ${handle.size}: truncated or replaced`);
    file = decodeValue<OperatorStateFile>(bytes);
  } catch (err) {
    if (err instanceof RiffleError) throw err;
    throw fail((err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `unreadable: ${describeError(err)}`, err);
  }
  if (file?.version !== FORMAT_VERSION || !Array.isArray(file.states)) throw fail("not an operator state file of a known version");
  const partition: OperatorStatePartition = new Map();
  for (const s of file.states) {
    if (typeof s?.name !== "string" || (s.mode !== "split" && s.mode !== "union") || !Array.isArray(s.elements)) throw fail("malformed state entry");
    partition.set(s.name, { mode: s.mode, elements: s.elements });
  }
  return partition;
}
