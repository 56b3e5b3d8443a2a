export { TestCluster, allRunning, metricValue, setFlags, type ClusterOptions, type JobDetails, type Settings } from "./cluster.js";
export { RiffleProcess, REPO_ROOT, CLI, type LogLine } from "./process.js";
export { committedLines, mulberry32, checkpointStats, waitForCheckpoints } from "./outputs.js";
export { killTaskManagers, type KillSchedule } from "./chaos.js";
export { TestKafkaBroker, kcat, KAFKA_BROKER_MAIN, type KafkaBrokerOptions, type KcatResult } from "./kafka.js";
export { EtcdCluster, EtcdMember, ETCD_BINARY, type EtcdClusterOptions } from "./etcd.js";
export { TestBrowser, CHROMIUM, SCREENSHOT_DIR } from "./browser.js";
export { HaTestCluster, type HaClusterOptions, type HaJobManager } from "./ha-cluster.js";
export { childrenOf, killOnExit, waitUntilDead } from "./children.js";
