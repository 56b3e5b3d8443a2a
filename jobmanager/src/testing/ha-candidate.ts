/**
 * A leader candidate in a process of its own, for tests and benchmarks that kill or pause a leader
 * (SIGKILL, SIGSTOP): it campaigns through the real HA services and reports on stdout, one JSON line
 * per event (`{"event":"granted","token":…,"at":<ms since the epoch>}`, `revoked`, `error`, `result`),
 * between its pino log lines. It takes commands on stdin, one JSON line each:
 *
 *   {"cmd":"increment","jobId":"<32 hex>"}  takes a checkpoint id under the latest leadership it had
 *                                           (even an ended one: a deposed leader's write must fail)
 *   {"cmd":"confirm"}                       publishes made-up addresses as the leader information
 *   {"cmd":"close"}                         resigns and exits
 *
 *   node --import tsx jobmanager/src/testing/ha-candidate.ts '<settings as JSON>'
 *
 * The settings are configuration keys (`high-availability.*`) plus `leaderId`.
 */
import { createInterface } from "node:readline";
import { createLogger, loadConfig, toRiffleError } from "@riffle/shared";
import { createHighAvailabilityServices, type LeaderSession } from "../ha/index.js";

const { leaderId, ...settings } = JSON.parse(process.argv[2] ?? "{}") as Record<string, string> & { leaderId: string };
const emit = (event: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...fields })}\n`);

const ha = await createHighAvailabilityServices(loadConfig({ env: {}, overrides: { "high-availability.type": "etcd", ...settings } }), {
  leaderId,
  logger: createLogger("ha-candidate"),
});
let latest: LeaderSession | undefined;
ha.leaderElection.start({
  grantLeadership(session) {
    latest = session;
    emit("granted", { token: session.token });
  },
  revokeLeadership(session, reason) {
    emit("revoked", { token: session.token, reason });
  },
  handleError(error) {
    emit("error", { code: error.code, message: error.message });
  },
});
emit("campaigning", { leaderId });

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line) as { cmd: string; jobId?: string };
  void (async () => {
    try {
      if (command.cmd === "close") {
        await ha.close();
        emit("closed");
        process.exit(0);
      }
      if (!latest) throw new Error("never led");
      if (command.cmd === "increment") {
        const id = await ha.stores(latest).checkpointIdCounter(command.jobId!).getAndIncrement();
        emit("result", { cmd: command.cmd, ok: true, value: id });
      } else if (command.cmd === "confirm") {
        const info = await ha.leaderElection.confirmLeadership(latest, {
          rpcAddress: `127.0.0.1:${process.pid}`,
          restAddress: `http://127.0.0.1:${process.pid}`,
        });
        emit("result", { cmd: command.cmd, ok: true, value: info });
      } else throw new Error(`unknown command ${command.cmd}`);
    } catch (err) {
      const e = toRiffleError(err);
      emit("result", { cmd: command.cmd, ok: false, code: e.code, message: e.message });
    }
  })();
});
