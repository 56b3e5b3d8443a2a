/**
 * Baseline child for the Kafka broker benchmark: a TCP server on loopback that reads size-prefixed
 * frames, as a Kafka broker reads requests, and answers each with an 8-byte frame (size + correlation
 * id), doing nothing else. It reports `PORT {"port":n}` when listening.
 */
import { createServer } from "node:net";

const server = createServer((socket) => {
  let pending: Buffer = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let acks = 0;
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      pending = pending.subarray(4 + pending.readInt32BE(0));
      acks++;
    }
    if (acks > 0) {
      const out = Buffer.alloc(8 * acks);
      for (let i = 0; i < acks; i++) out.writeInt32BE(4, i * 8);
      socket.write(out);
    }
  });
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(`PORT ${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}`);
});
