/**
 * The message protocol between API worker threads and the owner on the main thread. Workers take
 * numbers straight from shared memory; only name lookups, refills and admin calls cross threads.
 *
 * @module
 */
import {
  SequenceExhaustedError,
  SequenceNotFoundError,
  StoreUnavailableError,
} from "../store/store.ts";
import { TooManySequencesError } from "../atomicSequence/owner.ts";
import type { OwnerPort } from "../atomicSequence/owner.ts";
import type { SequenceTableMemory } from "../atomicSequence/atomic_sequence.ts";
import type { TraceDocument } from "../profiling/trace.ts";

/** The owner calls a worker may make, by name. */
export type OwnerCall = "resolve" | "create" | "info" | "list";

/** Worker → main messages. */
export type WorkerMessage =
  | { type: "listening"; port: number }
  | { type: "refill"; slot: number }
  | { type: "call"; id: number; call: OwnerCall; args: unknown[] }
  | { type: "closed" }
  | { type: "failed"; message: string }
  | { type: "captured"; id: number; profile?: unknown; error?: string }
  | { type: "traced"; id: number; doc: TraceDocument; timeOrigin: number };

/** Main → worker messages. */
export type MainMessage =
  | {
    type: "start";
    memory: SequenceTableMemory;
    port: number;
    reusePort: boolean;
    batchMax: number;
    index: number;
  }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: SerializedError }
  | { type: "shutdown" }
  | {
    type: "capture";
    id: number;
    kind: "cpu" | "heap";
    durationMs: number;
    samplingInterval: number;
    includeCollected: boolean;
  }
  | { type: "capture-abort"; id: number }
  | { type: "trace-start" }
  | { type: "trace-stop"; id: number };

/** An error as it crosses a thread boundary. */
export interface SerializedError {
  /** The error class name. */
  name: string;
  /** The message. */
  message: string;
  /** The sequence name, for sequence errors. */
  sequence?: string;
}

/** Flattens an error for `postMessage`. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof SequenceNotFoundError || error instanceof SequenceExhaustedError) {
    return { name: error.name, message: error.message, sequence: error.sequence };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

/** Rebuilds an error of the same class, so handlers map it to the same status. */
export function deserializeError(error: SerializedError): Error {
  switch (error.name) {
    case "SequenceNotFoundError":
      return new SequenceNotFoundError(error.sequence ?? "");
    case "SequenceExhaustedError":
      return new SequenceExhaustedError(error.sequence ?? "");
    case "StoreUnavailableError":
      return new StoreUnavailableError(error.message);
    case "TooManySequencesError": {
      const rebuilt = new TooManySequencesError(0);
      rebuilt.message = error.message;
      return rebuilt;
    }
    default:
      return new Error(error.message);
  }
}

/** An {@link OwnerPort} in a worker that forwards to the owner on the main thread. */
export class OwnerProxy implements OwnerPort {
  readonly #post: (message: WorkerMessage) => void;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #nextId = 1;

  /** @param post sends a message to the main thread. */
  constructor(post: (message: WorkerMessage) => void) {
    this.#post = post;
  }

  /** Delivers a reply from the main thread. */
  receive(message: Extract<MainMessage, { type: "reply" }>): void {
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(deserializeError(message.error));
  }

  #call<T>(call: OwnerCall, args: unknown[]): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#post({ type: "call", id, call, args });
    });
  }

  /** Forwards {@link OwnerPort.resolve}. */
  resolve(name: string): Promise<number> {
    return this.#call("resolve", [name]);
  }

  /** Forwards {@link OwnerPort.refill} (fire and forget). */
  refill(slot: number): void {
    this.#post({ type: "refill", slot });
  }

  /** Forwards {@link OwnerPort.create}. */
  create(name: string, start: bigint): ReturnType<OwnerPort["create"]> {
    return this.#call("create", [name, start]);
  }

  /** Forwards {@link OwnerPort.info}. */
  info(name: string): ReturnType<OwnerPort["info"]> {
    return this.#call("info", [name]);
  }

  /** Forwards {@link OwnerPort.list}. */
  list(): ReturnType<OwnerPort["list"]> {
    return this.#call("list", []);
  }
}

/** Answers a worker's owner call on the main thread. */
export async function dispatchCall(
  owner: OwnerPort,
  call: OwnerCall,
  args: unknown[],
): Promise<unknown> {
  switch (call) {
    case "resolve":
      return await owner.resolve(args[0] as string);
    case "create":
      return await owner.create(args[0] as string, args[1] as bigint);
    case "info":
      return await owner.info(args[0] as string);
    case "list":
      return await owner.list();
  }
}
