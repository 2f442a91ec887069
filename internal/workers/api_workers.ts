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
import type { OtherThreads } from "../profiling/pprof_routes.ts";
import type { ThreadProfile } from "../profiling/merge.ts";
import type { TraceDocument } from "../profiling/trace.ts";

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
  /** Profiling and tracing of the worker threads, for the debug server. */
  threads: OtherThreads;
}

let nextId = 1;

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
  const waiting = new Map<number, (message: WorkerMessage) => void>();
  const ask = <T extends WorkerMessage>(message: MainMessage & { id: number }): Promise<T> =>
    new Promise<T>((resolve) => {
      waiting.set(message.id, resolve as (message: WorkerMessage) => void);
      send(message);
    });
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
      case "captured":
      case "traced":
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
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
    name: `api-worker-${index}`,
    send,
    ask,
  };
}

type StartedWorker = ReturnType<typeof startOne>;

function otherThreads(workers: StartedWorker[]): OtherThreads {
  async function capture<P>(
    kind: "cpu" | "heap",
    window: { durationMs: number; signal?: AbortSignal },
    samplingInterval: number,
    includeCollected: boolean,
  ): Promise<ThreadProfile<P>[]> {
    return await Promise.all(workers.map(async (worker) => {
      const id = nextId++;
      const onAbort = () => worker.send({ type: "capture-abort", id });
      window.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const reply = await worker.ask<Extract<WorkerMessage, { type: "captured" }>>({
          type: "capture",
          id,
          kind,
          durationMs: window.durationMs,
          samplingInterval,
          includeCollected,
        });
        if (reply.error !== undefined) throw new Error(`${worker.name}: ${reply.error}`);
        return { thread: worker.name, profile: reply.profile as P };
      } finally {
        window.signal?.removeEventListener("abort", onAbort);
      }
    }));
  }
  return {
    cpu: (window) => capture("cpu", window, window.samplingIntervalMicros, false),
    heap: (window) =>
      capture("heap", window, window.samplingIntervalBytes, window.includeCollected),
    traceStart: () => workers.forEach((worker) => worker.send({ type: "trace-start" })),
    traceStop: () =>
      Promise.all(workers.map(async (worker) => {
        const reply = await worker.ask<Extract<WorkerMessage, { type: "traced" }>>({
          type: "trace-stop",
          id: nextId++,
        });
        return {
          thread: worker.name,
          doc: reply.doc as TraceDocument,
          originShiftUs: (reply.timeOrigin - performance.timeOrigin) * 1000,
        };
      })),
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
      threads: otherThreads(started),
    };
  } catch (error) {
    for (const worker of started) worker.terminate();
    throw error;
  }
}
