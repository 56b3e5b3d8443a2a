import type { ClusterOverview, HighAvailabilityInfo, MultipleJobsDetails } from "@riffle/shared/rest-api";
import { get } from "./api.js";
import { count, duration, rate } from "./format.js";
import { useNow, usePoll } from "./hooks.js";
import { href } from "./router.js";
import { Card, ErrorText, Loading, StateBadge } from "./ui.js";

/** The cluster at a glance: TaskManagers, slots, jobs by state, uptime, and what runs now. */
export function OverviewPage() {
  const overview = usePoll(() => get<ClusterOverview>("/overview"), "overview");
  const jobs = usePoll(() => get<MultipleJobsDetails>("/jobs/overview"), "jobs-overview");
  const ha = usePoll(() => get<HighAvailabilityInfo>("/jobmanager/ha"), "jobmanager-ha");
  const now = useNow();
  const o = overview.data;
  const running = (jobs.data?.jobs ?? []).filter((j) => !["FINISHED", "FAILED", "CANCELED"].includes(j.state));
  const throughput = running.reduce((sum, j) => sum + j.metrics.numRecordsOutPerSecond, 0);
  return (
    <div>
      <h1>Overview</h1>
      <ErrorText error={overview.error} />
      {!o ? (
        <Loading />
      ) : (
        <div class="cards">
          <Card title="TaskManagers" value={o.taskmanagers} testid="card-taskmanagers" />
          <Card title="Slots" value={`${o["slots-available"]} free`} detail={`of ${o["slots-total"]}`} testid="card-slots" />
          <Card title="Running jobs" value={o["jobs-running"]} testid="card-running" />
          <Card
            title="Ended jobs"
            value={o["jobs-finished"] + o["jobs-cancelled"] + o["jobs-failed"]}
            detail={`${o["jobs-finished"]} finished · ${o["jobs-cancelled"]} cancelled · ${o["jobs-failed"]} failed`}
            testid="card-ended"
          />
          <Card title="Throughput" value={rate(throughput)} detail="records out of sources, all running jobs" />
          <Card title="Uptime" value={duration(now - o["start-time"])} detail={`Riffle ${o["riffle-version"]}`} testid="card-uptime" />
          {ha.data && <HighAvailabilityCard info={ha.data} />}
        </div>
      )}
      <h2>Running jobs</h2>
      <ErrorText error={jobs.error} />
      {running.length === 0 ? (
        <div class="muted">{jobs.data ? "No job is running." : ""}</div>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>State</th>
              <th class="num">Duration</th>
              <th class="num">Parallelism</th>
              <th class="num">Records out/s</th>
            </tr>
          </thead>
          <tbody>
            {running.map((j) => (
              <tr key={j.jid}>
                <td>
                  <a href={href("jobs", j.jid)}>{j.name}</a>
                </td>
                <td>
                  <StateBadge state={j.state} />
                </td>
                <td class="num">{duration(now - j["start-time"])}</td>
                <td class="num">{j.parallelism}</td>
                <td class="num">{count(j.metrics.numRecordsOutPerSecond)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/**
 * This JobManager's place in high availability: its role, and who leads. A standby serves this page
 * too (the overview is the leader's), so the card says which JobManager answers and where the leader is.
 */
function HighAvailabilityCard({ info }: { info: HighAvailabilityInfo }) {
  if (info.type === "none") return <Card title="High availability" value="none" detail="one JobManager" testid="card-ha" />;
  const leader = info.leader ? `leader ${info.leader.id} (${info.leader.restAddress})` : (info.error ?? "no leader yet");
  return (
    <Card
      title={`High availability (${info.clusterId})`}
      value={info.role === "leader" ? "this JobManager leads" : "standby"}
      detail={`${leader} · ${info.candidates?.length ?? "?"} JobManagers campaigning`}
      testid="card-ha"
    />
  );
}
