import {
  connectEdge,
  type ChannelSpec,
  type InputGateDeployment,
  type JobEdge,
  type JobGraph,
  type JobRuntimeConfig,
  type JobVertex,
  type ResultPartitionDeployment,
  type StateBackendName,
  type TaskDeploymentDescriptor,
  type TaskRestore,
  type Unfenced,
} from "@riffle/shared";

/** Where a subtask runs, as its consumers and producers need to know. */
export interface Placement {
  executionId: string;
  taskmanagerId: string;
  address: string;
  /** The slot of the TaskManager: its worker thread hosts subtask i of every vertex. */
  slotIndex: number;
}

export interface DeploymentContext {
  jobId: string;
  jobName: string;
  bundleHash: string;
  args: string[];
  graph: JobGraph;
  /** 0 for the first deployment, +1 per restart. */
  attempt: number;
  stateBackend: StateBackendName;
  checkpointing: boolean;
  locate(vertexId: string, subtask: number): Placement;
  /** The state a subtask restores; undefined for a fresh start. */
  restore?(vertex: JobVertex, subtask: number): TaskRestore | undefined;
  /** The job's checkpoints so far, for two-phase-commit sinks (JobRuntimeConfig.checkpointHistory). */
  checkpointHistory?: JobRuntimeConfig["checkpointHistory"];
}

/**
 * The TaskDeploymentDescriptors of a job, one per subtask of every vertex.
 *
 * For an edge e from producer P to consumer C, subtask i of P writes partition
 * `<P's execution>/<e.id>` with one subpartition per consumer it feeds; subtask j of C reads that
 * partition of every producer it is connected to, at the subpartition `connectEdge` assigns it.
 */
export function buildDeploymentDescriptors(ctx: DeploymentContext): Unfenced<TaskDeploymentDescriptor>[] {
  const vertices = new Map(ctx.graph.vertices.map((v) => [v.id, v]));
  const edges = new Map(ctx.graph.edges.map((e) => [e.id, e]));
  const connections = new Map<string, { consumersOf: number[][]; channelsOf: ChannelSpec[][] }>();
  const connection = (e: JobEdge) => {
    let c = connections.get(e.id);
    if (!c) {
      c = connectEdge(e.partitioner, vertexOf(vertices, e.source).parallelism, vertexOf(vertices, e.target).parallelism);
      connections.set(e.id, c);
    }
    return c;
  };
  const jobConfig: JobRuntimeConfig = {
    bufferTimeoutMs: ctx.graph.bufferTimeoutMs,
    args: ctx.args,
    functionCount: ctx.graph.functionCount,
    stateBackend: ctx.stateBackend,
    checkpointing: ctx.checkpointing,
    // Planning resolves the interval (the job's, else pipeline.auto-watermark-interval); graphs stored
    // by earlier versions may lack it, and get that key's default.
    autoWatermarkIntervalMs: ctx.graph.autoWatermarkIntervalMs ?? 200,
    ...(ctx.checkpointHistory ? { checkpointHistory: ctx.checkpointHistory } : {}),
  };
  const jobConfigJson = JSON.stringify(jobConfig);

  const descriptors: Unfenced<TaskDeploymentDescriptor>[] = [];
  for (const vertex of ctx.graph.vertices) {
    const vertexJson = JSON.stringify(vertex);
    for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
      const self = ctx.locate(vertex.id, subtask);
      const partitions: ResultPartitionDeployment[] = vertex.outputs.map((edgeId, edgeIndex) => {
        const e = edgeOf(edges, edgeId);
        return {
          partitionId: `${self.executionId}/${e.id}`,
          consumerVertexId: e.target,
          numSubpartitions: connection(e).consumersOf[subtask]!.length,
          partitioner: e.partitioner,
          keySelector: e.keySelector ?? -1,
          maxParallelism: ctx.graph.maxParallelism,
          edgeIndex,
        };
      });
      const inputGates: InputGateDeployment[] = vertex.inputs.map((edgeId, gateIndex) => {
        const e = edgeOf(edges, edgeId);
        return {
          gateIndex,
          producerVertexId: e.source,
          channels: connection(e).channelsOf[subtask]!.map((c) => {
            const producer = ctx.locate(e.source, c.producer);
            return {
              partitionId: `${producer.executionId}/${e.id}`,
              producerSubtask: c.producer,
              taskmanagerId: producer.taskmanagerId,
              address: producer.address,
              subpartition: c.subpartition,
              slotIndex: producer.slotIndex,
            };
          }),
        };
      });
      const restore = ctx.restore?.(vertex, subtask);
      descriptors.push({
        jobId: ctx.jobId,
        jobName: ctx.jobName,
        executionId: self.executionId,
        bundleHash: ctx.bundleHash,
        vertexId: vertex.id,
        subtaskIndex: subtask,
        parallelism: vertex.parallelism,
        maxParallelism: ctx.graph.maxParallelism,
        vertexJson,
        inputGates,
        partitions,
        jobConfigJson,
        restoreJson: restore ? JSON.stringify(restore) : "",
        attempt: ctx.attempt,
        slotIndex: self.slotIndex,
      });
    }
  }
  return descriptors;
}

function vertexOf(vertices: Map<string, JobVertex>, id: string): JobVertex {
  const v = vertices.get(id);
  if (!v) throw new Error(`job graph has an edge to unknown vertex ${id}`);
  return v;
}

function edgeOf(edges: Map<string, JobEdge>, id: string): JobEdge {
  const e = edges.get(id);
  if (!e) throw new Error(`job graph vertex names unknown edge ${id}`);
  return e;
}
