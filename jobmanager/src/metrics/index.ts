/** Metrics at the JobManager: its Prometheus registry, and what it reads of its TaskManagers. */
export { createJobManagerMetrics, type HighAvailabilityMetrics, type LeaderMetricsSource } from "./prometheus.js";
export { currentGauge, type SetGaugeValue } from "./current-gauge.js";
export { MetricsHistory, JobMetricsHistory, SubtaskSeries, type MetricsSample, type SubtaskMetrics, type VertexPoint } from "./history.js";
export { backPressureLevel, jobThroughput, measuredSubtasks, subtaskMetricValues, vertexRates, type MeasuredSubtask, type VertexRates } from "./job-metrics.js";
export { TaskManagerMetricsScraper, parsePrometheusText, type PrometheusSample } from "./taskmanager-scraper.js";
