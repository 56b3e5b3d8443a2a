import { z } from "zod";
import { parseDuration, parseSize } from "../durations.js";

/**
 * Every configuration key Riffle reads, with its type, default and meaning. This table is the one
 * place defaults live; `docs/configuration.md` is generated from it (`npm run docs:config`).
 *
 * Keys follow Flink's flat dotted style. Each key can come from `riffle.yaml`, from an environment
 * variable (`RIFFLE_` + the key upper-cased with `.` and `-` as `_`, e.g. `RIFFLE_REST_PORT`), or from
 * a CLI flag (`--set rest.port=8082`, or the command's named flags); later sources win.
 */

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^-?\d+$/, "expected an integer")
        .transform(Number),
    ])
    .pipe(z.number().int().min(min).max(max));
const port = () => int(0, 65535);
const duration = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });
const size = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    try {
      return parseSize(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });
const str = () => z.string().min(1);
/** A Kubernetes resource quantity (`1`, `500m`, `1Gi`, `1e3`), as the API server's own pattern reads it. */
const quantity = () =>
  z
    .union([z.number().transform(String), z.string()])
    .pipe(z.string().trim())
    .pipe(
      z
        .string()
        .regex(/^[+]?(\d+|\d+\.\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/, "expected a Kubernetes quantity such as 1, 500m, 1Gi or 1500Mi"),
    );
const bool = () => z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
const num = (min: number, max: number) => z.union([z.number(), z.string().trim().min(1).transform(Number)]).pipe(z.number().min(min).max(max));
/** A duration that is a whole number of seconds within [min, max] (etcd lease TTLs are whole seconds). */
const wholeSeconds = (min: number, max: number) =>
  duration().pipe(
    z
      .number()
      .refine((ms) => ms % 1000 === 0, "expected a whole number of seconds, e.g. 3s")
      .pipe(
        z
          .number()
          .min(min * 1000, `must be at least ${min}s`)
          .max(max * 1000, `must be at most ${max}s`),
      ),
  );
/**
 * A comma-separated list of etcd client URLs, normalised to `http://host:port`. TLS needs client
 * certificates Riffle does not take yet, so `https://` is refused rather than half-supported.
 */
const etcdEndpoints = () =>
  z.string().transform((v, ctx) => {
    const out: string[] = [];
    for (const part of v.split(",").map((p) => p.trim())) {
      const m = /^(?:(https?):\/\/)?([^/:\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?$/.exec(part);
      const port = Number(m?.[3]);
      if (!m || port < 1 || port > 65535) {
        ctx.addIssue({ code: "custom", message: `"${part}" is not an etcd endpoint: expected http://host:port or host:port, separated by commas` });
        return z.NEVER;
      }
      if (m[1] === "https") {
        ctx.addIssue({ code: "custom", message: `"${part}": TLS to etcd is not supported yet; use an http:// endpoint` });
        return z.NEVER;
      }
      out.push(`http://${m[2]}:${port}`);
    }
    return out;
  });

interface OptionDef<S extends z.ZodType> {
  schema: S;
  default: z.input<S>;
  doc: string;
}
const opt = <S extends z.ZodType>(schema: S, def: z.input<S>, doc: string): OptionDef<S> => ({ schema, default: def, doc });

export const CONFIG_OPTIONS = {
  "rest.bind-address": opt(str(), "127.0.0.1", "Address the JobManager's REST API (and its /metrics) listens on."),
  "rest.port": opt(port(), 8081, "Port of the JobManager's REST API; 0 picks a free port."),
  "rest.address": opt(
    z.string(),
    "",
    "Host clients reach this JobManager's REST API at (Flink's key): published as the leader's REST address and used in a standby's redirects to the leader; empty uses rest.bind-address (127.0.0.1 for a wildcard address).",
  ),
  "rest.body-limit": opt(size(), "64mb", "Largest accepted REST request body (job bundles are sent in it)."),
  "rest.auth.operator-token": opt(
    z.string(),
    "",
    "Bearer token with the operator role (everything, job submission included). Setting any `rest.auth.*` credential turns authentication on for the REST API and the dashboard; empty: none.",
  ),
  "rest.auth.read-only-token": opt(z.string(), "", "Bearer token with the read-only role (every view, no action); empty: none."),
  "rest.auth.operator-credentials": opt(
    z.string().refine((v) => v === "" || /^[^:]+:.+$/.test(v), "expected user:password"),
    "",
    "`user:password` for HTTP basic authentication with the operator role; empty: none.",
  ),
  "rest.auth.read-only-credentials": opt(
    z.string().refine((v) => v === "" || /^[^:]+:.+$/.test(v), "expected user:password"),
    "",
    "`user:password` for HTTP basic authentication with the read-only role; empty: none.",
  ),
  "rest.auth.anonymous": opt(
    z.enum(["none", "read-only"]),
    "none",
    "What callers without credentials may do once authentication is on: `none`, or `read-only` views. Actions, and job submission above all (a job bundle is code), always need operator credentials.",
  ),
  "web.refresh-interval": opt(duration(), "2s", "How often the dashboard refreshes its views (Flink's key)."),
  "web.submit.enable": opt(
    z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]),
    true,
    "Whether the dashboard offers job submission (Flink's key); the REST API's POST /jobs is unaffected.",
  ),
  "web.cancel.enable": opt(
    z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]),
    true,
    "Whether the dashboard offers cancel, stop and rescale (Flink's key); the REST API is unaffected.",
  ),
  "rest.client.token": opt(z.string(), "", "Bearer token the `riffle` CLI sends to the REST API (see `rest.auth.*`); empty: none."),
  "rest.client.credentials": opt(z.string(), "", "`user:password` the `riffle` CLI sends with HTTP basic authentication; empty: none."),
  "jobmanager.rpc.address": opt(str(), "127.0.0.1", "Address of the JobManager's gRPC server: it binds here and TaskManagers and clients connect here."),
  "jobmanager.rpc.port": opt(port(), 6123, "Port of the JobManager's gRPC server; 0 picks a free port."),
  "jobmanager.storage.dir": opt(str(), ".riffle/jobmanager", "Directory for job bundles and job records (later also checkpoints)."),
  "jobmanager.plan.timeout": opt(duration(), "10s", "Longest time a job module may take to build its graph in plan mode before it is refused."),
  "jobmanager.slot-request.timeout": opt(
    duration(),
    "30s",
    "How long a job waits for enough free slots. Then NO_RESOURCE_AVAILABLE goes to its restart strategy: a job with restarts left waits again after the restart delay, others fail.",
  ),
  "jobmanager.collect.buffer-records": opt(int(1), 100_000, "Records of `collect` sinks the JobManager holds for a client before it makes the sinks wait."),
  "jobmanager.cancel.timeout": opt(duration(), "30s", "How long cancelling waits for tasks to confirm before the job is marked CANCELED anyway."),
  "jobmanager.metrics.history": opt(
    duration(),
    "5m",
    "How much of the TaskManagers' per-task reports the JobManager keeps per subtask, for rates, back-pressure and the dashboard's charts (about one sample per heartbeat interval each).",
  ),
  "heartbeat.interval": opt(duration(), "2s", "Interval between heartbeats, in both directions between JobManager and TaskManagers."),
  "heartbeat.timeout": opt(
    duration(),
    "8s",
    "A TaskManager (or JobManager) that sent nothing for this long is declared lost, at the latest one heartbeat interval later (10 s with the defaults); a broken connection is noticed at once.",
  ),
  "taskmanager.id": opt(z.string(), "", "Identifier of the TaskManager; empty makes one from its host and port and a random suffix."),
  "taskmanager.host": opt(str(), "127.0.0.1", "Address the TaskManager binds and advertises to the JobManager and to other TaskManagers."),
  "taskmanager.rpc.port": opt(port(), 6121, "Port of the TaskManager's gRPC server (control and data exchange); 0 picks a free port."),
  "taskmanager.metrics.port": opt(port(), 9249, "Port of the TaskManager's Prometheus /metrics endpoint; 0 picks a free port."),
  "taskmanager.slots": opt(
    int(1, 64),
    1,
    "Task slots offered by one TaskManager. Each slot runs its tasks in a worker thread of its own, so slots use several cores; network memory is split among them.",
  ),
  "taskmanager.jobmanager.address": opt(
    z.string(),
    "",
    "host:port of the JobManager's gRPC server to register with, or several separated by commas (the JobManagers of a highly available cluster: the TaskManager registers with whichever leads, and moves on when another does); empty uses jobmanager.rpc.address and jobmanager.rpc.port. Set on a JobManager, it is what the TaskManagers its resource manager's provider starts are given: with high availability, list every JobManager so that they follow a new leader.",
  ),
  "taskmanager.registration.timeout": opt(
    duration(),
    "60s",
    "How long a TaskManager keeps trying to reach the JobManager (at start, and again after losing it) before it exits with code 1.",
  ),
  "taskmanager.tmp.dir": opt(
    z.string(),
    "",
    "Directory the TaskManager makes its work directory in (job bundles, LevelDB state), named `riffle-tm-<host>-<boot>-<random>`, with the Unix socket `<name>.sock` beside it that says whether its TaskManager still runs; empty uses the OS temp directory. The work directory is removed at shutdown, and at start a TaskManager removes those under the same directory whose TaskManager is gone: on this machine since its last boot, in whatever container or PID namespace (its socket refuses connections); those of other machines and earlier boots are left alone. The directory must support Unix sockets (not 9p, vboxsf or some CIFS mounts). Outside Linux, its path must be short enough for a Unix socket address (103 bytes with the socket's name).",
  ),
  "taskmanager.memory.network.size": opt(
    size(),
    "64mb",
    "Network memory of one TaskManager, in bytes: split evenly among its slots, each slot's share cut into segments of taskmanager.memory.segment-size for its tasks' outputs and received buffers. In-flight data stays within it whatever the record size.",
  ),
  "taskmanager.memory.segment-size": opt(
    size(),
    "32kb",
    "Size of one network segment: records are serialized into segments (a larger record spans several), and one credit stands for one segment.",
  ),
  "taskmanager.memory.slot.heap-size": opt(
    size(),
    "2gb",
    "JavaScript heap limit of one slot's worker thread; a task that allocates past it fails with an out-of-memory cause while the TaskManager and its other slots keep running. 0 leaves Node's default.",
  ),
  "taskmanager.v8.parallel-scavenge": opt(
    bool(),
    false,
    "Whether V8 collects the young generation of slot workers with helper threads (V8's default). Off by default: with a slot per core the helpers compete with the slot workers for the cores, and the keyed shuffle took ~9% less CPU per record without them (decision 0019); turn it on when a TaskManager has spare cores. Applies to the whole TaskManager process.",
  ),
  "task.cancellation.timeout": opt(
    duration(),
    "10s",
    "How long a cancelled task may take to stop before its slot's worker thread is terminated (which stops even an infinite loop) and replaced.",
  ),
  "taskmanager.network.exclusive-buffers-per-channel": opt(int(1, 64), 2, "Buffers reserved for each remote input channel: its initial credit."),
  "taskmanager.network.floating-buffers-per-gate": opt(int(0, 1024), 8, "Buffers an input gate can lend to whichever of its channels has a backlog."),
  "taskmanager.network.max-buffers-per-subpartition": opt(
    int(1, 1024),
    10,
    "Finished buffers a result subpartition may queue before its producer is back-pressured.",
  ),
  "taskmanager.network.partition-request.timeout": opt(duration(), "10s", "How long a partition request waits for its producer to be deployed."),
  "state.backend": opt(
    z.enum(["memory", "leveldb"]),
    "memory",
    "Keyed state backend of jobs that choose none: `memory` (Maps) or `leveldb` (one LevelDB per task, with a write-back cache).",
  ),
  "state.checkpoints.dir": opt(
    str(),
    ".riffle/checkpoints",
    "Directory checkpoints are written to (`<dir>/<jobId>/chk-<n>/`); every process of the cluster must see it (a shared volume in production).",
  ),
  "state.savepoints.dir": opt(str(), ".riffle/savepoints", "Default directory for savepoints triggered without a target directory."),
  "state.checkpoints.num-retained": opt(int(1, 100), 3, "Completed checkpoints kept per job; older ones are deleted only after a newer one completed."),
  "execution.checkpointing.timeout": opt(duration(), "10m", "A checkpoint not completed within this time is aborted (it counts as a failed checkpoint)."),
  "execution.checkpointing.min-pause": opt(duration(), "0ms", "Least time between the end of one checkpoint and the start of the next."),
  "execution.checkpointing.tolerable-failed-checkpoints": opt(int(0, 1000), 0, "Consecutive failed checkpoints tolerated before the job fails and restarts."),
  "restart-strategy.exponential-backoff.initial-delay": opt(
    duration(),
    "1s",
    "First restart delay of the default strategy for checkpointed jobs (exponential backoff).",
  ),
  "restart-strategy.exponential-backoff.max-delay": opt(duration(), "1m", "Largest restart delay of the exponential backoff."),
  "restart-strategy.exponential-backoff.multiplier": opt(
    z.union([z.number(), z.string().transform(Number)]).pipe(z.number().min(1)),
    2,
    "Factor applied to the delay after each restart.",
  ),
  "restart-strategy.exponential-backoff.reset-after": opt(duration(), "1h", "A job that ran this long without failing starts again from the initial delay."),
  "parallelism.default": opt(int(1, 32768), 1, "Parallelism of jobs that set none."),
  "pipeline.max-parallelism": opt(int(1, 32768), 128, "Default max parallelism (number of key groups) of jobs that set none."),
  "pipeline.auto-watermark-interval": opt(
    duration(),
    "200ms",
    "How often periodic watermark generators (bounded out-of-orderness, idleness) run in jobs that do not call `env.setAutoWatermarkInterval`; 0 turns periodic watermarks off.",
  ),
  "execution.buffer-timeout": opt(duration(), "100ms", "Default longest time a record waits in a partly filled network buffer; 0 flushes after every record."),
  "cluster.taskmanagers": opt(int(1, 64), 2, "TaskManager processes started by `riffle cluster start` and by the embedded cluster of `riffle run`."),
  "cluster.jobmanagers": opt(
    int(1, 9),
    1,
    "JobManager processes started by `riffle cluster start`; more than one needs `--ha` (high availability on a local etcd). The i-th (from 0) listens on rest.port + i and jobmanager.rpc.port + i.",
  ),
  "high-availability.type": opt(
    z.enum(["none", "etcd"]),
    "none",
    "`none`: one JobManager keeps its jobs in jobmanager.storage.dir, and jobs it was running fail when it restarts. `etcd`: every JobManager campaigns for leadership in etcd, and a standby takes over the jobs of a leader that died.",
  ),
  "high-availability.cluster-id": opt(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "expected 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"),
    "default",
    "Name of the cluster in the coordination service: every key lives under `/riffle/<cluster-id>/`, so clusters with different ids share one etcd without seeing each other. All JobManagers and TaskManagers of one cluster use the same id.",
  ),
  "high-availability.storageDir": opt(
    str(),
    ".riffle/ha",
    "Directory for what high availability keeps outside etcd (job graphs too large for an etcd record; later job bundles): every JobManager of the cluster must see it (a shared volume in production).",
  ),
  "high-availability.etcd.endpoints": opt(
    etcdEndpoints(),
    "http://127.0.0.1:2379",
    "Client URLs of the etcd members, separated by commas (`http://host:port` or `host:port`).",
  ),
  "high-availability.etcd.lease-ttl": opt(
    wholeSeconds(1, 3600),
    "2s",
    "Time to live of a JobManager's etcd lease, in whole seconds (etcd raises it to its minimum, 2 s with etcd's default timing). A leader renews it every sixth of it and steps down when it could not for five sixths of it, before etcd can elect another; a standby is elected about this long after the leader died. Why 2 s: docs/decisions/0009-ha-lease-ttl.md.",
  ),
  "high-availability.etcd.call-timeout": opt(
    duration().pipe(z.number().min(50, "must be at least 50ms")),
    "1s",
    "Deadline of every etcd request but the lease keep-alives (each of those waits for its answer as long as the answer can still renew the lease: five sixths of the TTL); must be at most half the lease TTL, so a write is answered or given up well within the leadership it was made under.",
  ),
  "job.autoscaler.enabled": opt(
    bool(),
    false,
    "Whether the autoscaler rescales jobs (Flink's key). A job can turn it on for itself with `env.enableAutoscaling()`; either way the job must checkpoint, as rescales go through savepoints.",
  ),
  "job.autoscaler.scaling.enabled": opt(
    bool(),
    true,
    "Whether the autoscaler applies its decisions (Flink's key); `false` is a dry run: it measures and recommends (GET /jobs/:id/autoscaler, logs, metrics) and never rescales.",
  ),
  "job.autoscaler.interval": opt(
    duration().pipe(z.number().min(100, "must be at least 100ms")),
    "10s",
    "How often the autoscaler collects each job's vertex metrics and evaluates them.",
  ),
  "job.autoscaler.metrics.window": opt(
    duration().pipe(z.number().min(1000, "must be at least 1s")),
    "15m",
    "How much metric history a decision averages over (Flink's key); no decision is taken before the window is full after a start or rescale.",
  ),
  "job.autoscaler.stabilization.interval": opt(duration(), "5m", "Time after a job (re)started during which its metrics are not collected (Flink's key)."),
  "job.autoscaler.target.utilization": opt(num(0.01, 1), 0.7, "Busy fraction each vertex is sized for (Flink's key): capacity = target rate / this."),
  "job.autoscaler.target.utilization.boundary": opt(
    num(0, 1),
    0.3,
    "No rescale while a vertex's utilization stays within target ± this (Flink's key): scale up above target + boundary, down below target - boundary.",
  ),
  "job.autoscaler.scale-down.interval": opt(
    duration(),
    "1h",
    "How long a scale-down must keep being recommended before it is applied (Flink's key); the highest parallelism recommended meanwhile is taken.",
  ),
  "job.autoscaler.scale-up.max-factor": opt(num(0, 1e9), 100_000, "Largest increase of one scale-up, as a fraction of the parallelism (Flink's key)."),
  "job.autoscaler.scale-down.max-factor": opt(num(0, 1), 0.6, "Largest decrease of one scale-down, as a fraction of the parallelism (Flink's key)."),
  "job.autoscaler.catch-up.duration": opt(
    duration(),
    "5m",
    "Time in which the sized job should work off a source backlog and the records that queue up during the rescale itself (Flink's key); 0 ignores both.",
  ),
  "job.autoscaler.restart.time": opt(
    duration(),
    "30s",
    "Expected down time of a rescale (Flink's key; Flink's default is 5 min for pod restarts, a savepoint rescale of a small Riffle job takes seconds).",
  ),
  "job.autoscaler.vertex.min-parallelism": opt(int(1, 32768), 1, "Lowest parallelism the autoscaler gives a vertex (Flink's key)."),
  "job.autoscaler.vertex.max-parallelism": opt(
    int(1, 32768),
    200,
    "Highest parallelism the autoscaler gives a vertex (Flink's key); also capped by the job's max parallelism and what the vertex supports.",
  ),
  "job.autoscaler.scaling.effectiveness.detection.enabled": opt(
    bool(),
    true,
    "Detect scale-ups that brought no more throughput and stop scaling that vertex up (Flink's key; off by default in Flink).",
  ),
  "job.autoscaler.scaling.effectiveness.threshold": opt(
    num(0, 1),
    0.1,
    "A scale-up is ineffective when its gain in true processing rate is below this fraction of the gain it was expected to bring (Flink's key).",
  ),
  "job.autoscaler.scaling.max-per-hour": opt(
    int(1, 1000),
    6,
    "Most rescales the autoscaler applies to one job in any hour; further decisions wait and are recorded as skipped.",
  ),
  "job.autoscaler.scaling.failure-backoff": opt(
    duration(),
    "1m",
    "Wait after a rescale that failed (or found too few slots) before the autoscaler tries again; doubles with each further failure, up to an hour.",
  ),
  "resourcemanager.provider": opt(
    z.enum(["standalone", "process", "docker", "kubernetes"]),
    "standalone",
    "Who starts TaskManagers for the JobManager: `standalone` (nobody: they are started by hand), `process` (child processes of the JobManager), `docker` (containers of Riffle's image on a Docker daemon) or `kubernetes` (pods, through the Kubernetes API: resourcemanager.kubernetes.*).",
  ),
  "resourcemanager.taskmanagers.min": opt(int(0, 1000), 0, "TaskManagers the provider keeps running even without jobs."),
  "resourcemanager.taskmanagers.max": opt(int(1, 1000), 8, "Most TaskManagers the provider runs at once; jobs that need more wait for slots."),
  "resourcemanager.taskmanager-timeout": opt(
    duration(),
    "30s",
    "A provided TaskManager whose slots were all free for this long is stopped, down to resourcemanager.taskmanagers.min (Flink's key).",
  ),
  "resourcemanager.taskmanager-registration.timeout": opt(
    duration(),
    "2m",
    "A provided TaskManager that has not registered this long after its start is stopped and reported (Flink's key).",
  ),
  "resourcemanager.start-worker.retry-interval": opt(
    duration(),
    "3s",
    "Wait after a TaskManager could not be started before starting one again (Flink's key); doubles with each further failure, up to a minute.",
  ),
  "resourcemanager.process.entry": opt(
    z.string(),
    "",
    "`process` provider: the `riffle` CLI script the TaskManagers run (`node <entry> taskmanager`); empty: the script this JobManager was started from.",
  ),
  "resourcemanager.process.log-dir": opt(
    z.string(),
    "",
    "`process` provider: directory of the TaskManagers' log files and records, which every JobManager of the cluster must read (the next leader adopts what they record); empty: `<high-availability.storageDir>/<cluster-id>/taskmanagers` with high availability, else `<jobmanager.storage.dir>/taskmanagers`.",
  ),
  "resourcemanager.docker.image": opt(
    str(),
    "riffle:latest",
    "`docker` provider: the image the TaskManager containers run (built from deploy/docker/Dockerfile by `npm run docker:image`). It is never pulled: it must be on the daemon already.",
  ),
  "resourcemanager.docker.host": opt(
    z.string(),
    "",
    "`docker` provider: the Docker daemon, as a socket path, `unix:///path` or `tcp://host:port` (no TLS); empty: DOCKER_HOST, else /var/run/docker.sock.",
  ),
  "resourcemanager.docker.memory": opt(
    size(),
    0,
    "`docker` provider: memory limit of each TaskManager container (e.g. 2gb); 0: no limit. A container above it is killed, reported and replaced.",
  ),
  "resourcemanager.docker.cpus": opt(num(0, 1024), 0, "`docker` provider: CPUs each TaskManager container may use (e.g. 1.5); 0: no limit."),
  "resourcemanager.docker.binds": opt(
    z.string(),
    "",
    "`docker` provider: bind mounts of each TaskManager container, comma-separated `host-path:container-path[:ro]`. Checkpoint and savepoint directories (and files sinks write) must be mounted at the same path the JobManager uses.",
  ),
  "resourcemanager.kubernetes.kubeconfig": opt(
    z.string(),
    "",
    "`kubernetes` provider: the kubeconfig file to reach the Kubernetes API with; empty: $KUBECONFIG, else in a pod (KUBERNETES_SERVICE_HOST set) its service account (resourcemanager.kubernetes.in-cluster.service-account-dir), else ~/.kube/config.",
  ),
  "resourcemanager.kubernetes.in-cluster.service-account-dir": opt(
    str(),
    "/var/run/secrets/kubernetes.io/serviceaccount",
    "`kubernetes` provider, in a pod without a kubeconfig: the directory of the JobManager's service account (`token`, `ca.crt`, `namespace`), where Kubernetes mounts it; the API server is $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT over HTTPS.",
  ),
  "resourcemanager.kubernetes.namespace": opt(
    z.string(),
    "",
    "`kubernetes` provider: namespace of the TaskManager pods; empty: the kubeconfig context's namespace (in a pod: its service account's `namespace` file), else `default`.",
  ),
  "resourcemanager.kubernetes.image": opt(
    z.string(),
    "",
    "`kubernetes` provider: container image of the TaskManager pods (Riffle's image; required with the kubernetes provider).",
  ),
  "resourcemanager.kubernetes.image-pull-policy": opt(
    z.enum(["IfNotPresent", "Always", "Never"]),
    "IfNotPresent",
    "`kubernetes` provider: the pods' imagePullPolicy.",
  ),
  "resourcemanager.kubernetes.command": opt(
    z.string(),
    "",
    "`kubernetes` provider: the TaskManager container's command, words separated by spaces, before its argument `taskmanager`; empty: the image's entrypoint (Riffle's image: the riffle CLI).",
  ),
  "resourcemanager.kubernetes.service-account": opt(
    z.string(),
    "",
    "`kubernetes` provider: service account of the TaskManager pods; empty: the namespace's default.",
  ),
  "resourcemanager.kubernetes.taskmanager.cpu": opt(
    quantity(),
    "1",
    "`kubernetes` provider: CPU each TaskManager pod requests (a Kubernetes quantity: `1`, `500m`).",
  ),
  "resourcemanager.kubernetes.taskmanager.cpu.limit": opt(
    z.union([z.literal(""), quantity()]),
    "",
    "`kubernetes` provider: CPU limit of each TaskManager pod; empty: the request.",
  ),
  "resourcemanager.kubernetes.taskmanager.memory": opt(
    quantity(),
    "1Gi",
    "`kubernetes` provider: memory each TaskManager pod requests (a Kubernetes quantity: `1Gi`, `1500Mi`); it must hold taskmanager.memory.network.size and what the slots' tasks use.",
  ),
  "resourcemanager.kubernetes.taskmanager.memory.limit": opt(
    z.union([z.literal(""), quantity()]),
    "",
    "`kubernetes` provider: memory limit of each TaskManager pod (past it the pod is OOM-killed and replaced); empty: the request.",
  ),
  "resourcemanager.kubernetes.owner-deployment": opt(
    z.string(),
    "",
    "`kubernetes` provider: name of the JobManager's Deployment in the namespace; the TaskManager pods get an owner reference to it, so deleting it deletes them. Empty: no owner reference.",
  ),
  "resourcemanager.kubernetes.jobmanager.address": opt(
    z.string(),
    "",
    "`kubernetes` provider: host:port the TaskManager pods register at (a Service in front of the JobManager's gRPC port, e.g. `riffle-jobmanager:6123`); empty: taskmanager.jobmanager.address, else this JobManager's jobmanager.rpc.address and port (the JobManager warns at start when that is a loopback address, which a pod cannot reach).",
  ),
  "resourcemanager.kubernetes.termination-grace-period": opt(
    wholeSeconds(0, 3600),
    "30s",
    "`kubernetes` provider: how long a stopped TaskManager pod may take after SIGTERM before it is killed (the pods' terminationGracePeriodSeconds).",
  ),
} as const;

export type ConfigKey = keyof typeof CONFIG_OPTIONS;
export type RiffleConfig = { [K in ConfigKey]: z.output<(typeof CONFIG_OPTIONS)[K]["schema"]> };

export function envVarName(key: string): string {
  return `RIFFLE_${key.toUpperCase().replace(/[.-]/g, "_")}`;
}
