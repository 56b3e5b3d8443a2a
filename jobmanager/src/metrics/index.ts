/** Metrics at the JobManager: its Prometheus registry, and what it reads of its TaskManagers. */
export { createJobManagerMetrics } from "./prometheus.js";
export { TaskManagerMetricsScraper, parsePrometheusText, type PrometheusSample } from "./taskmanager-scraper.js";
