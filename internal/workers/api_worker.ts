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
import { captureCpuProfile, captureHeapProfile } from "../profiling/inspector_capture.ts";
import { tracer, traceRequest } from "../profiling/trace.ts";

const post = (message: WorkerMessage) => self.postMessage(message);
const owner = new OwnerProxy(post);
let server: Deno.HttpServer | undefined;
const captures = new Map<number, AbortController>();

/** Profiles this thread for the main thread's `/debug/pprof/profile` and `/heap`. */
async function capture(message: Extract<MainMessage, { type: "capture" }>): Promise<void> {
  const abort = new AbortController();
  captures.set(message.id, abort);
  try {
    const window = { durationMs: message.durationMs, signal: abort.signal };
    const captured = message.kind === "cpu"
      ? await captureCpuProfile({ ...window, samplingIntervalMicros: message.samplingInterval })
      : await captureHeapProfile({
        ...window,
        samplingIntervalBytes: message.samplingInterval,
        includeCollected: message.includeCollected,
      });
    post({ type: "captured", id: message.id, profile: captured.profile });
  } catch (error) {
    post({ type: "captured", id: message.id, error: (error as Error).message });
  } finally {
    captures.delete(message.id);
  }
}

self.onmessage = async (event: MessageEvent<MainMessage>) => {
  const message = event.data;
  switch (message.type) {
    case "start": {
      try {
        const table = SequenceTable.attach(message.memory);
        const client = new SequenceClient(table, owner);
        const router = apiHandler(client, { batchMax: message.batchMax });
        server = Deno.serve({
          port: message.port,
          hostname: "0.0.0.0",
          reusePort: message.reusePort,
          handler: (req) => traceRequest(req, router),
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
    case "capture":
      capture(message);
      break;
    case "capture-abort":
      captures.get(message.id)?.abort();
      break;
    case "trace-start":
      if (!tracer.active) tracer.start();
      break;
    case "trace-stop":
      post({
        type: "traced",
        id: message.id,
        doc: tracer.stop(),
        timeOrigin: performance.timeOrigin,
      });
      break;
    case "shutdown":
      await server?.shutdown();
      post({ type: "closed" });
      break;
  }
};
