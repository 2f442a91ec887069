/**
 * The API's worker threads: starts `WORKERS` listeners on one port, serves their calls to the
 * owner, and supervises them. A worker that crashes fails its pending calls at once (a capture
 * running in it answers 503 and frees its flag) and is replaced after a short backoff; until every
 * worker listens again, {@link ApiPool.allListening} is false, so readiness is 503.
 *
 * @module
 */
import { OWNER_OPERATIONS, type SequenceOwner } from "../atomicSequence/owner.ts";
import type { TokenTable } from "../auth/token_file.ts";
import { unavailable } from "../domain/domain.ts";
import type { ConnectionLimits, ServerStats } from "../http/serve.ts";
import type { HttpStats } from "../metrics/metrics.ts";
import type { ApiLimits } from "../limits/api_limits.ts";
import type { Logger } from "../log/log.ts";
import type { ThreadProfile } from "../profiling/merge.ts";
import type { OtherThreads } from "../profiling/pprof_routes.ts";
import type { V8CpuProfile, V8HeapProfile } from "../profiling/pprof_convert.ts";
import { connectRpc, type RpcClient, serveRpc } from "../rpc/rpc.ts";
import {
  WORKER_CONTROL_OPERATIONS,
  type WorkerControl,
  type WorkerStart,
  type WorkerStatus,
} from "./worker_control.ts";

/** Options of {@link startApiPool}. */
export interface ApiPoolOptions {
  /** The worker thread's entry module (it answers {@link WorkerControl} and reports {@link WorkerStatus}). */
  module: URL;
  /** The API port; 0 lets the first worker pick one that the others then share. */
  port: number;
  /** Address to bind. */
  hostname: string;
  /** How many worker threads. */
  workers: number;
  /** Write one access-log line per request (`LOG_REQUESTS`). */
  logRequests?: boolean;
  /** Largest `count`. */
  batchMax: number;
  /** Bounds on clients; `maxConnections` is for the whole pool, split over the workers. */
  limits: ConnectionLimits;
  /** Milliseconds a request body has to arrive. */
  bodyTimeoutMs: number;
  /** The process's rate limits; each worker enforces its share of the rates. */
  rates: ApiLimits;
  /** The owner of the shared table. */
  owner: SequenceOwner;
  /** Where to log. */
  logger: Logger;
  /** First and largest delay before a crashed worker is replaced (ms). */
  restartMs?: { initial: number; max: number };
  /** The access tokens in force at start; absent: tokens are off. */
  tokens?: TokenTable;
  /** Certificate chain and key (PEM) to serve HTTPS; absent: HTTP. */
  tls?: { cert: string; key: string };
}

/** The running workers as one server. */
export interface ApiPool {
  /** The shared port. */
  readonly port: number;
  /** True when every worker accepts connections. */
  allListening(): boolean;
  /** Workers, how many listen, and for how long none has. */
  health(): { workers: number; listening: number; downForMs: number };
  /** Profiling and tracing of the worker threads, for the debug server. */
  threads: OtherThreads;
  /** The workers' connections, summed; a worker that does not answer within a second is left out. */
  httpStats(): Promise<HttpStats>;
  /**
   * Puts a new set of access tokens in force in every worker (and in any worker started later);
   * resolves with how many running workers confirmed it.
   */
  setTokens(tokens: TokenTable): Promise<number>;
  /** Drains every worker (in-flight requests finish), then ends the threads. */
  shutdown(): Promise<void>;
}

/** Milliseconds a control call may wait: the longest capture (300 s) and some. */
const CONTROL_TIMEOUT_MS = 330_000;

interface Running {
  name: string;
  worker: Worker;
  control: RpcClient<WorkerControl>;
  channel: MessageChannel;
  listening: boolean;
  /** Set once the thread is stopped: it answers no call any more. */
  stopped: boolean;
  /** Resolves when the thread is gone (crashed or terminated). */
  gone: Promise<void>;
}

/**
 * Starts the workers; resolves once every one listens.
 * @throws when a worker cannot listen (the port is taken); the others are stopped first.
 */
export async function startApiPool(options: ApiPoolOptions): Promise<ApiPool> {
  const { logger, workers } = options;
  const restart = options.restartMs ?? { initial: 100, max: 5_000 };
  const slots: (Running | undefined)[] = Array.from({ length: workers }, () => undefined);
  let port = options.port;
  let stopping = false;
  let lastListening = performance.now();
  let nextCaptureId = 1;
  let tokens = options.tokens;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const listeningCount = () => slots.filter((w) => w?.listening).length;
  const markListening = () => {
    if (listeningCount() > 0) lastListening = performance.now();
  };

  /** Starts worker `index`; resolves with the port once it listens. */
  function spawn(index: number): Promise<number> {
    const name = `api-worker-${index}`;
    const worker = new Worker(options.module, { type: "module" });
    const channel = new MessageChannel();
    serveRpc(channel.port1, options.owner, OWNER_OPERATIONS);
    let onGone = () => {};
    const gone = new Promise<void>((resolve) => (onGone = resolve));
    return new Promise<number>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<WorkerStatus>) => {
        const status = event.data;
        if (status.type === "listening") {
          running.listening = true;
          markListening();
          resolve(status.port);
        } else if (status.type === "failed") {
          stop(running);
          reject(new Error(`API worker ${index} cannot listen: ${status.message}`));
        } else if (status.type === "state") {
          markListening();
          running.listening = status.listening;
          markListening();
        }
      };
      const control = connectRpc<WorkerControl>(worker, WORKER_CONTROL_OPERATIONS, {
        peer: name,
        timeoutMs: CONTROL_TIMEOUT_MS,
      });
      const running: Running = {
        name,
        worker,
        control,
        channel,
        listening: false,
        stopped: false,
        gone,
      };
      slots[index] = running;
      worker.onerror = (event) => {
        event.preventDefault();
        logger.error("API worker crashed", { worker: index, error: event.message });
        markListening();
        control.failAll(unavailable(`${name} stopped: ${event.message}`));
        stop(running);
        onGone();
        reject(new Error(`API worker ${index} crashed: ${event.message}`));
        if (!stopping) replace(index, restart.initial);
      };
      const start: WorkerStart = {
        type: "start",
        memory: options.owner.table.memory,
        owner: channel.port2,
        port,
        hostname: options.hostname,
        batchMax: options.batchMax,
        limits: {
          ...options.limits,
          maxConnections: Math.ceil(options.limits.maxConnections / workers),
        },
        bodyTimeoutMs: options.bodyTimeoutMs,
        rates: {
          ...options.rates,
          createPerSec: options.rates.createPerSec / workers,
          batchNumbersPerSec: options.rates.batchNumbersPerSec / workers,
        },
        index,
        logRequests: options.logRequests === true,
        ...(tokens === undefined ? {} : { tokens }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      };
      worker.postMessage(start, [channel.port2]);
    });
  }

  function stop(running: Running): void {
    running.stopped = true;
    running.control.failAll(unavailable(`${running.name} stopped`));
    running.listening = false;
    running.channel.port1.close();
    running.worker.terminate();
  }

  /** Replaces a crashed worker after `delay`, backing off while replacements keep failing. */
  function replace(index: number, delay: number): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopping) return;
      spawn(index).then(
        () => logger.info("API worker replaced", { worker: index, port }),
        (error) => {
          logger.error("API worker could not be replaced; retrying", { worker: index, error });
          if (!stopping && slots[index]?.listening !== true) {
            replace(index, Math.min(delay * 2, restart.max));
          }
        },
      );
    }, delay);
    timers.add(timer);
  }

  try {
    port = await spawn(0);
    await Promise.all(Array.from({ length: workers - 1 }, (_, i) => spawn(i + 1)));
  } catch (error) {
    stopping = true;
    for (const running of slots) if (running) stop(running);
    throw error;
  }

  const live = () => slots.filter((w): w is Running => w?.listening === true);

  async function capture<P>(
    kind: "cpu" | "heap",
    window: { durationMs: number; signal?: AbortSignal },
    samplingInterval: number,
    includeCollected: boolean,
  ): Promise<ThreadProfile<P>[]> {
    return await Promise.all(
      live().map(async (running) => {
        const id = nextCaptureId++;
        const onAbort = () => running.control.notify("abortCapture", id);
        window.signal?.addEventListener("abort", onAbort, { once: true });
        try {
          const profile = await running.control.remote.capture({
            id,
            kind,
            durationMs: window.durationMs,
            samplingInterval,
            includeCollected,
          });
          return { thread: running.name, profile: profile as P };
        } finally {
          window.signal?.removeEventListener("abort", onAbort);
        }
      }),
    );
  }

  return {
    get port() {
      return port;
    },
    allListening: () => listeningCount() === workers,
    health: () => {
      const listening = listeningCount();
      return {
        workers,
        listening,
        downForMs: listening > 0 ? 0 : performance.now() - lastListening,
      };
    },
    threads: {
      cpu: (window) => capture<V8CpuProfile>("cpu", window, window.samplingIntervalMicros, false),
      heap: (window) =>
        capture<V8HeapProfile>(
          "heap",
          window,
          window.samplingIntervalBytes,
          window.includeCollected,
        ),
      count: workers,
      traceStart: (options) =>
        live().forEach((running) => running.control.notify("traceStart", options)),
      traceStop: () =>
        Promise.all(
          live().map(async (running) => {
            const reply = await running.control.remote.traceStop();
            return {
              thread: running.name,
              doc: reply.doc,
              originShiftUs: (reply.timeOrigin - performance.timeOrigin) * 1000,
            };
          }),
        ),
    },
    async httpStats() {
      const sum: HttpStats = {
        workers,
        listening: listeningCount(),
        open: 0,
        inFlight: 0,
        refused: 0,
        timedOut: 0,
        acceptErrors: 0,
      };
      const answers = await Promise.all(
        live().map((running) => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const late = new Promise<undefined>((
            r,
          ) => (timer = setTimeout(() => r(undefined), 1_000)));
          return Promise.race([running.control.remote.stats().catch(() => undefined), late])
            .finally(() => clearTimeout(timer));
        }),
      );
      for (const stats of answers as (ServerStats | undefined)[]) {
        if (stats === undefined) continue;
        sum.open += stats.open;
        sum.inFlight += stats.inFlight;
        sum.refused += stats.refused;
        sum.timedOut += stats.timedOut;
        sum.acceptErrors += stats.acceptErrors;
      }
      return sum;
    },
    async setTokens(table) {
      tokens = table;
      // A worker still starting gets the call after its start message, so it is in force there
      // too before it serves; a stopped one is replaced with the new table.
      const confirmed = await Promise.all(slots.map(async (running) => {
        if (running === undefined || running.stopped) return false;
        return await Promise.race([
          running.control.remote.setTokens(table).then(() => true, () => false),
          running.gone.then(() => false),
        ]);
      }));
      return confirmed.filter((yes) => yes).length;
    },
    async shutdown() {
      stopping = true;
      for (const timer of timers) clearTimeout(timer);
      await Promise.all(slots.map(async (running) => {
        if (running === undefined) return;
        await Promise.race([running.control.remote.shutdown().catch(() => {}), running.gone]);
        stop(running);
      }));
    },
  };
}
