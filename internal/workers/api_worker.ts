/**
 * Entry point of one API worker thread: attaches the shared sequence table, serves the API on the
 * shared port (`reusePort`, the kernel spreads connections over the workers), and drains on
 * request.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { SequenceTable } from "../atomicSequence/atomic_sequence.ts";
import { SequenceClient } from "../atomicSequence/sequences.ts";
import { apiHandler } from "../handlers/handlers.ts";
import { type MainMessage, OwnerProxy, type WorkerMessage } from "./rpc.ts";

const post = (message: WorkerMessage) => self.postMessage(message);
const owner = new OwnerProxy(post);
let server: Deno.HttpServer | undefined;

self.onmessage = async (event: MessageEvent<MainMessage>) => {
  const message = event.data;
  switch (message.type) {
    case "start": {
      try {
        const table = SequenceTable.attach(message.memory);
        const client = new SequenceClient(table, owner);
        server = Deno.serve({
          port: message.port,
          hostname: "0.0.0.0",
          reusePort: message.reusePort,
          handler: apiHandler(client, { batchMax: message.batchMax }),
          onListen: () => {},
        });
        post({ type: "listening", port: (server.addr as Deno.NetAddr).port });
      } catch (error) {
        post({ type: "failed", message: (error as Error).message });
      }
      break;
    }
    case "reply":
      owner.receive(message);
      break;
    case "shutdown":
      await server?.shutdown();
      post({ type: "closed" });
      break;
  }
};
