import type { TaskMetricsReport } from "@riffle/shared";
import type { Clock } from "../clock.js";

/**
 * What the JobManager keeps of its TaskManagers' per-task reports (one per heartbeat): a window of
 * history per subtask, from which it serves rates, back-pressure and charts.
 *
 *   heartbeat ─► record(report) ─► SubtaskSeries (vertex v2, subtask 1): [s0 s1 s2 … sN]  ≤ window, ≤ maxSamples
 *                                                   │
 *          rates: (count(sN) − count(sK)) / (mN − mK) over the rate window, same execution only,
 *          where m is when the TaskManager read the counters (a repeated reading is kept once)
 *
 * Memory is bounded: each series keeps the samples of the last `windowMs` and at most `maxSamples`;
 * series that stop receiving (a finished job, subtasks dropped by a rescale) are removed once their
 * newest sample is older than the window.
 */

/**
 * One report as received, stamped with the JobManager's clock: the TaskManager's readings (counters
 * restart with every execution, so rates never span two executionIds). `at` places it in the window
 * and on charts; rates divide by the time between readings (`measuredAtMs`, the TaskManager's clock),
 * which arrival times only approximate: a slot's worker reads its counters about once a second
 * whatever the heartbeat interval, so with a 500 ms heartbeat every other report repeats a reading,
 * and arrival-time rates alternated between twice the rate and zero.
 */
export type MetricsSample = Omit<TaskMetricsReport, "jobId" | "vertexId" | "subtaskIndex"> & {
  at: number;
  /** Fraction of the output buffers in use (Flink's outPoolUsage), once TaskManagers report it. */
  outPoolUsage?: number;
  /** Fraction of the input buffers in use (Flink's inPoolUsage), once TaskManagers report it. */
  inPoolUsage?: number;
  /** Records a source has not read yet (Flink's pendingRecords); -1 or absent when it cannot tell. */
  pendingRecords?: number;
};

/** A subtask's measured values now: the latest report plus rates over the rate window. */
export interface SubtaskMetrics extends MetricsSample {
  numRecordsInPerSecond: number;
  numRecordsOutPerSecond: number;
  numBytesInPerSecond: number;
  numBytesOutPerSecond: number;
  /** Records a source subtask emitted per second into its chain (Flink: the source operator's numRecordsOutPerSecond); 0 for other subtasks. */
  sourceNumRecordsOutPerSecond: number;
}

/** One point of a vertex's chart: records per second summed over subtasks, times at the highest subtask. */
export interface VertexPoint {
  t: number;
  numRecordsInPerSecond: number;
  numRecordsOutPerSecond: number;
  /** What the vertex's source emits into its chain per second (0 without a source). */
  sourceNumRecordsOutPerSecond: number;
  busyTimeMsPerSecond: number;
  idleTimeMsPerSecond: number;
  backPressuredTimeMsPerSecond: number;
}

export interface MetricsHistoryOptions {
  /** How much history each subtask keeps. */
  windowMs: number;
  /** The TaskManagers' report interval (heartbeat.interval): sizes the series and spaces chart points. */
  reportIntervalMs: number;
  /** Rates are measured over at least this long (5 s, as the TaskManagers' own per-second meters). */
  rateWindowMs?: number;
  clock: Clock;
}

/** The readings of a report, whatever fields the TaskManager's version sends (buffer usage comes later). */
function sampleOf(report: TaskMetricsReport, at: number): MetricsSample {
  const { jobId: _job, vertexId: _vertex, subtaskIndex: _subtask, ...readings } = report;
  return { ...readings, at };
}

/** Seconds between two readings: by the TaskManager's clock when both say, else by arrival. */
function secondsBetween(a: MetricsSample, b: MetricsSample): number {
  return (a.measuredAtMs > 0 && b.measuredAtMs > 0 ? b.measuredAtMs - a.measuredAtMs : b.at - a.at) / 1000;
}

/** The samples of one subtask, oldest first. */
export class SubtaskSeries {
  private readonly samples: MetricsSample[] = [];

  constructor(private readonly maxSamples: number) {}

  push(sample: MetricsSample): void {
    const last = this.samples.at(-1);
    // The same reading again (a heartbeat before the slot read its counters anew): nothing new.
    if (last && last.executionId === sample.executionId && sample.measuredAtMs > 0 && sample.measuredAtMs === last.measuredAtMs) return;
    // Two reports in the same millisecond (a heartbeat and a final state update): keep the later one.
    if (last && last.at >= sample.at && last.executionId === sample.executionId) this.samples[this.samples.length - 1] = { ...sample, at: last.at };
    else this.samples.push(sample);
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
  }

  /** Drops samples older than `before`; true when none is left. */
  prune(before: number): boolean {
    let n = 0;
    while (n < this.samples.length && this.samples[n]!.at < before) n++;
    if (n > 0) this.samples.splice(0, n);
    return this.samples.length === 0;
  }

  get latest(): MetricsSample | undefined {
    return this.samples.at(-1);
  }

  get size(): number {
    return this.samples.length;
  }

  list(): readonly MetricsSample[] {
    return this.samples;
  }

  /** The latest report with its rates: counts since the oldest sample of the same execution within `rateWindowMs`. */
  current(rateWindowMs: number): SubtaskMetrics | undefined {
    const last = this.samples.at(-1);
    if (!last) return undefined;
    let base = last;
    for (let i = this.samples.length - 2; i >= 0; i--) {
      const s = this.samples[i]!;
      if (s.executionId !== last.executionId) break;
      base = s;
      if (last.at - s.at >= rateWindowMs) break;
    }
    const seconds = secondsBetween(base, last);
    const rate = (f: (s: MetricsSample) => number) => (seconds > 0 ? Math.max(0, f(last) - f(base)) / seconds : 0);
    return {
      ...last,
      numRecordsInPerSecond: rate((s) => s.recordsIn),
      numRecordsOutPerSecond: rate((s) => s.recordsOut),
      numBytesInPerSecond: rate((s) => s.bytesIn),
      numBytesOutPerSecond: rate((s) => s.bytesOut),
      sourceNumRecordsOutPerSecond: rate((s) => s.sourceRecordsOut ?? 0),
    };
  }
}

/** The history of every subtask of one job. */
export class JobMetricsHistory {
  private readonly series = new Map<string, SubtaskSeries>();

  constructor(
    private readonly maxSamples: number,
    private readonly options: Required<Omit<MetricsHistoryOptions, "clock">>,
  ) {}

  record(sample: MetricsSample, vertexId: string, subtask: number): void {
    const key = `${vertexId}/${subtask}`;
    let s = this.series.get(key);
    if (!s) {
      s = new SubtaskSeries(this.maxSamples);
      this.series.set(key, s);
    }
    s.push(sample);
  }

  subtask(vertexId: string, subtask: number): SubtaskSeries | undefined {
    return this.series.get(`${vertexId}/${subtask}`);
  }

  /** The subtask's current values, if it reported from `executionId` (the current attempt). */
  current(vertexId: string, subtask: number, executionId: string): SubtaskMetrics | undefined {
    const m = this.subtask(vertexId, subtask)?.current(this.options.rateWindowMs);
    return m?.executionId === executionId ? m : undefined;
  }

  /** Drops samples older than `before`; true when the job has none left. */
  prune(before: number): boolean {
    for (const [key, s] of this.series) if (s.prune(before)) this.series.delete(key);
    return this.series.size === 0;
  }

  get sampleCount(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.size;
    return n;
  }

  /**
   * The vertex's chart over the window, one point per report interval after `since`: at each point t,
   * each subtask contributes the rate of the report interval covering t (and the times of the report
   * that closed it). Points cover only times every subtask has reports around, up to the oldest of
   * their latest reports, so a subtask whose heartbeat is still on its way never shows as a dip.
   */
  vertexSeries(vertexId: string, subtasks: number, since: number): VertexPoint[] {
    const series: Array<readonly MetricsSample[]> = [];
    for (let i = 0; i < subtasks; i++) {
      const s = this.subtask(vertexId, i);
      if (s && s.size >= 2) series.push(s.list());
    }
    if (series.length === 0) return [];
    const step = this.options.reportIntervalMs;
    const end = Math.min(...series.map((s) => s.at(-1)!.at));
    // Points start where every subtask's history does, so none shows a partial sum.
    const first = Math.max(...series.map((s) => s[0]!.at));
    const start = Math.max(first + 1, since + 1, end - this.options.windowMs);
    const points: VertexPoint[] = [];
    const cursors = series.map(() => 1);
    for (let t = Math.ceil(start / step) * step; t <= end; t += step) {
      const p: VertexPoint = {
        t,
        numRecordsInPerSecond: 0,
        numRecordsOutPerSecond: 0,
        sourceNumRecordsOutPerSecond: 0,
        busyTimeMsPerSecond: 0,
        idleTimeMsPerSecond: 0,
        backPressuredTimeMsPerSecond: 0,
      };
      let covered = 0;
      series.forEach((samples, k) => {
        let i = cursors[k]!;
        while (i < samples.length && samples[i]!.at < t) i++;
        cursors[k] = i;
        if (i >= samples.length || samples[i - 1]!.at > t) return;
        const a = samples[i - 1]!;
        const b = samples[i]!;
        covered++;
        const seconds = secondsBetween(a, b);
        if (a.executionId === b.executionId && seconds > 0) {
          p.numRecordsInPerSecond += Math.max(0, b.recordsIn - a.recordsIn) / seconds;
          p.numRecordsOutPerSecond += Math.max(0, b.recordsOut - a.recordsOut) / seconds;
          p.sourceNumRecordsOutPerSecond += Math.max(0, (b.sourceRecordsOut ?? 0) - (a.sourceRecordsOut ?? 0)) / seconds;
        }
        p.busyTimeMsPerSecond = Math.max(p.busyTimeMsPerSecond, b.busyMsPerSecond);
        p.idleTimeMsPerSecond = Math.max(p.idleTimeMsPerSecond, b.idleMsPerSecond);
        p.backPressuredTimeMsPerSecond = Math.max(p.backPressuredTimeMsPerSecond, b.backPressuredMsPerSecond);
      });
      if (covered === series.length) points.push(p);
    }
    return points;
  }
}

/**
 * The JobManager's metrics history: one JobMetricsHistory per job that reported. Reports are
 * recorded as they arrive; a job's history goes once its newest sample is older than the window.
 */
export class MetricsHistory {
  private readonly jobs = new Map<string, JobMetricsHistory>();
  private readonly maxSamples: number;
  private readonly settings: Required<Omit<MetricsHistoryOptions, "clock">>;
  private readonly clock: Clock;
  private lastPrune = 0;

  constructor(options: MetricsHistoryOptions) {
    this.clock = options.clock;
    this.settings = { windowMs: options.windowMs, reportIntervalMs: options.reportIntervalMs, rateWindowMs: options.rateWindowMs ?? 5_000 };
    // One sample per report interval over the window, with room for final reports and a faster heartbeat.
    this.maxSamples = 2 * Math.ceil(options.windowMs / Math.max(1, options.reportIntervalMs)) + 2;
  }

  get options(): Readonly<Required<Omit<MetricsHistoryOptions, "clock">>> {
    return this.settings;
  }

  record(report: TaskMetricsReport): void {
    const now = this.clock.now();
    let job = this.jobs.get(report.jobId);
    if (!job) {
      job = new JobMetricsHistory(this.maxSamples, this.settings);
      this.jobs.set(report.jobId, job);
    }
    job.record(sampleOf(report, now), report.vertexId, report.subtaskIndex);
    // Old samples go at most once per report interval, not on every report.
    if (now - this.lastPrune >= this.settings.reportIntervalMs) {
      this.lastPrune = now;
      const before = now - this.settings.windowMs;
      for (const [id, j] of this.jobs) if (j.prune(before)) this.jobs.delete(id);
    }
  }

  job(jobId: string): JobMetricsHistory | undefined {
    return this.jobs.get(jobId);
  }

  /** Samples held, over every job (what bounds the memory). */
  get sampleCount(): number {
    let n = 0;
    for (const j of this.jobs.values()) n += j.sampleCount;
    return n;
  }
}
