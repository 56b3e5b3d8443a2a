/** Every API the broker serves, one module per group of APIs. */
import type { Api } from "../protocol/api.js";
import { apiVersions } from "./api-versions.js";
import { fetch, listOffsets } from "./fetch.js";
import { findCoordinator, heartbeat, joinGroup, leaveGroup, offsetCommit, offsetFetch, syncGroup } from "./groups.js";
import { produce } from "./produce.js";
import { createPartitions, createTopics, deleteTopics, metadata } from "./topics.js";
import { addOffsetsToTxn, addPartitionsToTxn, endTxn, initProducerId, txnOffsetCommit } from "./transactions.js";

export const APIS: readonly Api[] = [
  produce,
  fetch,
  listOffsets,
  metadata,
  offsetCommit,
  offsetFetch,
  findCoordinator,
  joinGroup,
  heartbeat,
  leaveGroup,
  syncGroup,
  apiVersions,
  createTopics,
  deleteTopics,
  initProducerId,
  addPartitionsToTxn,
  addOffsetsToTxn,
  endTxn,
  txnOffsetCommit,
  createPartitions,
];

export { encodeUnsupportedApiVersions } from "./api-versions.js";
