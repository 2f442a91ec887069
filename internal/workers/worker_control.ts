/**
 * What the main thread may ask of an API worker, and what a worker reports on its own.
 *
 * @module
 */
import type { SequenceTableMemory } from "../atomicSequence/atomic_sequence.ts";
import type { ApiLimits } from "../limits/api_limits.ts";
import type { TokenTable } from "../auth/token_file.ts";
import type { ConnectionLimits, ServerStats } from "../http/serve.ts";
import type { TraceDocument, TraceStartOptions } from "../profiling/trace.ts";

/** A profile to capture in a worker. */
export interface CaptureRequest {
  /** Identifies the capture, for {@link WorkerControl.abortCapture}. */
  id: number;
  /** CPU or sampling heap profile. */
  kind: "cpu" | "heap";
  /** How long (ms). */
  durationMs: number;
  /** Microseconds (CPU) or bytes (heap) between samples. */
  samplingInterval: number;
  /** Heap only: keep allocations collected during the window. */
  includeCollected: boolean;
}

/** The control calls a worker answers. */
export interface WorkerControl {
  /** Captures a profile in the worker; resolves with V8's profile. */
  capture(request: CaptureRequest): Promise<unknown>;
  /** Ends a running capture now. */
  abortCapture(id: number): void;
  /** Starts the worker's tracer with its share of the trace budget. */
  traceStart(options?: TraceStartOptions): void;
  /** Stops it; the document and the worker's clock origin. */
  traceStop(): { doc: TraceDocument; timeOrigin: number };
  /** Ends captures, stops accepting, and lets in-flight requests finish. */
  shutdown(): Promise<void>;
  /** The worker's connections. */
  stats(): ServerStats | undefined;
  /** Puts a new set of access tokens in force (the token file was re-read on SIGHUP). */
  setTokens(tokens: TokenTable): void;
}

/** The names of the {@link WorkerControl} calls. */
export const WORKER_CONTROL_OPERATIONS = [
  "capture",
  "abortCapture",
  "traceStart",
  "traceStop",
  "shutdown",
  "stats",
  "setTokens",
] as const satisfies readonly (keyof WorkerControl)[];

/** What a worker reports without being asked. */
export type WorkerStatus =
  | { type: "listening"; port: number }
  | { type: "failed"; message: string }
  | { type: "state"; listening: boolean };

/** The first message a worker gets. */
export interface WorkerStart {
  type: "start";
  /** The shared sequence table. */
  memory: SequenceTableMemory;
  /** The channel to the owner (transferred). */
  owner: MessagePort;
  /** Port and address to serve; the port is shared by every worker. */
  port: number;
  hostname: string;
  /** Largest `count`. */
  batchMax: number;
  /** Bounds on this worker's clients. */
  limits: ConnectionLimits;
  /** Milliseconds a request body has to arrive. */
  bodyTimeoutMs: number;
  /** This thread's share of the rate limits. */
  rates: ApiLimits;
  /** The worker's index, for logs. */
  index: number;
  /** Write one access-log line per request (`LOG_REQUESTS`). */
  logRequests?: boolean;
  /** The access tokens in force; absent: tokens are off and every route is open. */
  tokens?: TokenTable;
  /** Certificate chain and key (PEM) to serve HTTPS; absent: HTTP. */
  tls?: { cert: string; key: string };
}
