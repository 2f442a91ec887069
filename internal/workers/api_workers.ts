/**
 * Starts `WORKERS` API listener threads on one port and serves their owner calls. Every worker
 * takes numbers from the owner's shared table, so a number is answered once across all of them.
 *
 * @module
 */
import type { SequenceOwner } from "../atomicSequence/owner.ts";
import type { Logger } from "../log/log.ts";
import type { V1Options } from "../handlers/v1/v1.ts";
import { dispatchCall, type MainMessage, serializeError, type WorkerMessage } from "./rpc.ts";

/** Options of {@link startApiWorkers}. */
export interface ApiWorkersOptions {
  /** The API port; 0 lets the first worker pick one that the others then share. */
  port: number;
  /** How many worker threads. */
  workers: number;
  /** The v1 API options. */
  v1: V1Options;
  /** The owner of the shared table. */
  owner: SequenceOwner;
  /** Where to log. */
  logger: Logger;
}

/** The running workers as one server. */
export interface ApiWorkers {
  /** The shared port. */
  port: number;
  /** Drains every worker (in-flight requests finish), then ends the threads. */
  shutdown(): Promise<void>;
}

function startOne(options: ApiWorkersOptions, port: number, index: number) {
  const worker = new Worker(new URL("./api_worker.ts", import.meta.url), { type: "module" });
  const send = (message: MainMessage) => worker.postMessage(message);
  let onListening: (port: number) => void = () => {};
  let onFailed: (error: Error) => void = () => {};
  let onClosed: () => void = () => {};
  const listening = new Promise<number>((resolve, reject) => {
    onListening = resolve;
    onFailed = reject;
  });
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
    const message = event.data;
    switch (message.type) {
      case "listening":
        onListening(message.port);
        break;
      case "failed":
        onFailed(new Error(`API worker ${index} failed to start: ${message.message}`));
        break;
      case "refill":
        options.owner.refill(message.slot);
        break;
      case "call":
        dispatchCall(options.owner, message.call, message.args).then(
          (value) => send({ type: "reply", id: message.id, ok: true, value }),
          (error) =>
            send({ type: "reply", id: message.id, ok: false, error: serializeError(error) }),
        );
        break;
      case "closed":
        onClosed();
        break;
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    options.logger.error("API worker crashed", { worker: index, error: event.message });
    onFailed(new Error(`API worker ${index} crashed: ${event.message}`));
    onClosed();
  };
  send({
    type: "start",
    memory: options.owner.table.memory,
    port,
    reusePort: true,
    batchMax: options.v1.batchMax,
    index,
  });
  return {
    listening,
    async shutdown() {
      send({ type: "shutdown" });
      await closed;
      worker.terminate();
    },
    terminate: () => worker.terminate(),
  };
}

/** Starts the workers; resolves once every one listens. */
export async function startApiWorkers(options: ApiWorkersOptions): Promise<ApiWorkers> {
  const first = startOne(options, options.port, 0);
  const started = [first];
  try {
    const port = await first.listening;
    for (let index = 1; index < options.workers; index++) {
      started.push(startOne(options, port, index));
    }
    await Promise.all(started.map((worker) => worker.listening));
    return {
      port,
      async shutdown() {
        await Promise.all(started.map((worker) => worker.shutdown()));
      },
    };
  } catch (error) {
    for (const worker of started) worker.terminate();
    throw error;
  }
}
