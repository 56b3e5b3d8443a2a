import { createRequire } from "node:module";
import { Command, Option } from "commander";
import { addGlobalOptions, globalOptions, intArg, parseRestAddresses } from "./options.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

/**
 * The `riffle` command line. Command implementations are imported when their command runs, so
 * `riffle list` does not load the JobManager and TaskManager code.
 *
 * Every command accepts `--config <file>` and `--set key=value`. Exit codes: 0 success, 1 failure
 * (printed as `error[CODE]: message`), 2 usage error, 128+n after signal n.
 */
export function buildProgram(): Command {
  const program = new Command("riffle")
    .description("Riffle: a distributed stream processor for TypeScript.")
    .version(version, "-V, --version")
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError("(add --help for usage)");
  addGlobalOptions(program);

  const jobmanagerOption = () =>
    new Option(
      "-m, --jobmanager <host:port>",
      "REST address of the JobManager, or of several separated by commas (a highly available cluster: the CLI follows the leader) (default: rest.bind-address:rest.port of the configuration)",
    ).argParser(parseRestAddresses);
  const done = (code: number) => {
    process.exitCode = code;
  };

  addGlobalOptions(
    program
      .command("jobmanager")
      .description("run a JobManager in the foreground (REST API and gRPC); stops on SIGTERM or Ctrl-C")
      .option("--rest-port <n>", "REST port (rest.port); 0 picks a free port")
      .option("--rpc-port <n>", "gRPC port (jobmanager.rpc.port); 0 picks a free port")
      .option("--storage-dir <dir>", "directory for bundles and job records (jobmanager.storage.dir)"),
  ).action(async (opts, cmd: Command) => {
    const { jobmanagerCommand } = await import("./commands/jobmanager.js");
    done(await jobmanagerCommand(globalOptions(cmd), opts));
  });

  addGlobalOptions(
    program
      .command("taskmanager")
      .description(
        "run a TaskManager in the foreground; it registers with the JobManager, stops on SIGTERM or Ctrl-C, and exits 1 when it gives up on the JobManager (taskmanager.registration.timeout)",
      )
      .option("--jobmanager <host:port>", "gRPC address of the JobManager (taskmanager.jobmanager.address)")
      .option("--slots <n>", "task slots offered (taskmanager.slots)")
      .option("--rpc-port <n>", "gRPC port (taskmanager.rpc.port); 0 picks a free port")
      .option("--metrics-port <n>", "Prometheus /metrics port (taskmanager.metrics.port); 0 picks a free port"),
  ).action(async (opts, cmd: Command) => {
    const { taskmanagerCommand } = await import("./commands/taskmanager.js");
    done(await taskmanagerCommand(globalOptions(cmd), opts));
  });

  const cluster = program.command("cluster").description("start or stop a local cluster running in the background");
  addGlobalOptions(
    cluster
      .command("start")
      .description("start JobManagers and TaskManagers (and with --ha a local etcd) as background processes (logs in .riffle/log/)")
      .option("--taskmanagers <n>", "number of TaskManagers (default: cluster.taskmanagers, 2)", intArg(1))
      .option("--jobmanagers <n>", "number of JobManagers; more than one needs --ha (default: cluster.jobmanagers, 1)", intArg(1))
      .option("--ha", "high availability: start a local etcd (Debian's etcd-server) that the JobManagers campaign in"),
  ).action(async (opts, cmd: Command) => {
    const { clusterStartCommand } = await import("./commands/cluster.js");
    done(await clusterStartCommand(globalOptions(cmd), opts));
  });
  addGlobalOptions(cluster.command("stop").description("stop the cluster started by `riffle cluster start`")).action(async (_opts, cmd: Command) => {
    const { clusterStopCommand } = await import("./commands/cluster.js");
    done(await clusterStopCommand(globalOptions(cmd)));
  });

  addGlobalOptions(
    program
      .command("run")
      .description("bundle a job and run it: on a local cluster started for this run, or on --jobmanager")
      .usage("[options] <job> [job arguments...]")
      .argument("<job>", "the job file (TypeScript or JavaScript module with a default export)")
      .argument("[args...]", "arguments for the job: everything after the job file")
      .addOption(jobmanagerOption())
      .option("-p, --parallelism <n>", "default parallelism of the job", intArg(1))
      .option("-d, --detached", "submit and exit, printing the job id (needs --jobmanager)")
      .option("--name <name>", "job name (default: the file name without extension)")
      .option("--taskmanagers <n>", "TaskManagers of the embedded cluster (default: cluster.taskmanagers, at least enough slots for --parallelism)", intArg(1))
      .option("-s, --from-savepoint <path>", "start from a savepoint (its directory); state is matched to operators by uid")
      .option("--allow-non-restored-state", "with --from-savepoint: drop state of operators the job no longer has instead of refusing it")
      .passThroughOptions()
      .addHelpText("after", "\nEverything after the job file goes to the job, e.g.\n  riffle run -p 2 word-count.ts --input words.txt"),
  ).action(async (job: string, args: string[], opts, cmd: Command) => {
    if (opts.detached && opts.jobmanager === undefined)
      cmd.error("error: --detached needs --jobmanager: an embedded cluster ends with the command", { exitCode: 2, code: "riffle.usage" });
    if (opts.taskmanagers !== undefined && opts.jobmanager !== undefined)
      cmd.error("error: --taskmanagers sizes the embedded cluster and cannot be combined with --jobmanager", { exitCode: 2, code: "riffle.usage" });
    if (opts.allowNonRestoredState && opts.fromSavepoint === undefined)
      cmd.error("error: --allow-non-restored-state needs --from-savepoint", { exitCode: 2, code: "riffle.usage" });
    const { runCommand } = await import("./commands/run.js");
    done(await runCommand(globalOptions(cmd), job, args, opts));
  });

  addGlobalOptions(program.command("list").description("list the cluster's jobs").addOption(jobmanagerOption())).action(async (opts, cmd: Command) => {
    const { listCommand } = await import("./commands/list.js");
    done(await listCommand(globalOptions(cmd), opts));
  });

  addGlobalOptions(program.command("info").description("show a job's status, failure and vertices").argument("<jobId>").addOption(jobmanagerOption())).action(
    async (jobId: string, opts, cmd: Command) => {
      const { infoCommand } = await import("./commands/info.js");
      done(await infoCommand(globalOptions(cmd), jobId, opts));
    },
  );

  addGlobalOptions(
    program.command("cancel").description("cancel a job and wait until it has stopped").argument("<jobId>").addOption(jobmanagerOption()),
  ).action(async (jobId: string, opts, cmd: Command) => {
    const { cancelCommand } = await import("./commands/cancel.js");
    done(await cancelCommand(globalOptions(cmd), jobId, opts));
  });

  addGlobalOptions(
    program
      .command("savepoint")
      .description("take a savepoint of a running job and print its directory")
      .argument("<jobId>")
      .argument("[targetDirectory]", "directory to create the savepoint in (default: state.savepoints.dir of the cluster)")
      .addOption(jobmanagerOption()),
  ).action(async (jobId: string, targetDirectory: string | undefined, opts, cmd: Command) => {
    const { savepointCommand } = await import("./commands/savepoint.js");
    done(await savepointCommand(globalOptions(cmd), jobId, targetDirectory, opts));
  });

  addGlobalOptions(
    program
      .command("stop")
      .description("stop a running job with a savepoint: it ends FINISHED; prints the savepoint's directory")
      .argument("<jobId>")
      .option("--savepoint [dir]", "directory to create the savepoint in (default: state.savepoints.dir of the cluster)")
      .addOption(jobmanagerOption()),
  ).action(async (jobId: string, opts, cmd: Command) => {
    const { stopCommand } = await import("./commands/stop.js");
    done(await stopCommand(globalOptions(cmd), jobId, opts));
  });

  addGlobalOptions(
    program
      .command("rescale")
      .description("change a running job's parallelism: stop with a savepoint, restart from it at the new parallelism")
      .argument("<jobId>")
      .requiredOption("-p, --parallelism <n>", "the new parallelism", intArg(1))
      .addOption(jobmanagerOption()),
  ).action(async (jobId: string, opts, cmd: Command) => {
    const { rescaleCommand } = await import("./commands/rescale.js");
    done(await rescaleCommand(globalOptions(cmd), jobId, opts));
  });

  const dev = program.command("dev").description("tools for local development and demos");
  addGlobalOptions(
    dev
      .command("kafka")
      .description("run the Kafka test broker in the foreground: a single-node test/dev broker speaking the Kafka protocol, not a production Kafka")
      .option("--port <n>", "port to listen on; 0 picks a free port", intArg(0), 9092)
      .option("--host <address>", "address to listen on", "127.0.0.1")
      .option("--data-dir <dir>", "where its log, committed offsets and transactions are kept", ".riffle/kafka")
      .option("--partitions <n>", "partitions of topics created on first use", intArg(1), 1)
      .option("--no-fsync", "acknowledge writes without fsync (they survive a kill of the broker, not a crash of the machine)"),
  ).action(async (opts) => {
    const { devKafkaCommand } = await import("./commands/dev-kafka.js");
    done(await devKafkaCommand(opts));
  });

  addGlobalOptions(program.command("config-docs").description("print the configuration reference (Markdown)")).action(async () => {
    const { configDocsCommand } = await import("./commands/config-docs.js");
    done(await configDocsCommand());
  });

  return program;
}
