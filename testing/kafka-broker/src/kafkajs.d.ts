// kafkajs ships no types for its protocol internals; these are the pieces the broker reuses.
declare module "kafkajs/src/protocol/recordBatch/crc32C/index.js" {
  /** CRC-32C (Castagnoli) of the bytes, as Kafka's record batch v2 checksum. */
  const crc32C: (buffer: Buffer) => number;
  export default crc32C;
}
