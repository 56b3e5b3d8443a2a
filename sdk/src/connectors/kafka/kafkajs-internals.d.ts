// kafkajs ships no types for its internals; this is the one piece the Kafka source reuses.
declare module "kafkajs/src/consumer/filterAbortedMessages.js" {
  /** The messages of a fetch without those of the aborted transactions listed (control records stay). */
  const filterAbortedMessages: <M extends { offset: string }>(args: {
    messages: M[];
    abortedTransactions: Array<{ producerId: string; firstOffset: string }>;
  }) => M[];
  export default filterAbortedMessages;
}
