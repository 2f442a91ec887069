/**
 * Calls between threads, derived from an interface: {@link connectRpc} gives an object with the
 * interface's methods that posts each call over a `MessagePort` (or a worker) and resolves with the
 * answer; {@link serveRpc} answers them from the real object on the other side. Every call has a
 * deadline, and {@link RpcClient.failAll} rejects everything pending at once (the other thread
 * died), so no caller waits forever. Errors cross as {@link SequencerError} data.
 *
 * @module
 */
import { type ErrorData, errorText, SequencerError, unavailable } from "../domain/domain.ts";

/** One end of a channel: a `MessagePort`, a `Worker`, or a worker's `self`. */
export interface Endpoint {
  /** Sends a message. */
  postMessage(message: unknown): void;
  /** Receives messages. */
  onmessage: ((event: MessageEvent) => void) | null;
}

/** The methods of `T` that can be called across threads, each returning a promise. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>>
    : never;
};

type Call = { rpc: "call"; id: number; method: string; args: unknown[] };
type Reply =
  | { rpc: "reply"; id: number; ok: true; value: unknown }
  | { rpc: "reply"; id: number; ok: false; error: ErrorData };

/** The calling side of a channel. */
export interface RpcClient<T> {
  /** The remote object: each method posts a call and resolves with its answer. */
  readonly remote: Remote<T>;
  /** Sends a call whose answer nobody waits for (e.g. a refill request). */
  notify<K extends keyof T & string>(method: K, ...args: unknown[]): void;
  /** Rejects every pending call with `error` (the other side is gone). */
  failAll(error: SequencerError): void;
  /** How many calls wait for an answer. */
  readonly pending: number;
}

/** Options of {@link connectRpc}. */
export interface RpcOptions {
  /** What the other side is, for error messages (e.g. `the sequence owner`). */
  peer: string;
  /** Milliseconds a call may wait for its answer before it fails as `unavailable`. */
  timeoutMs: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The calling side for the `methods` of `T` over `endpoint`. Replies arriving on `endpoint` are
 * consumed; call {@link RpcClient} from one thread only.
 */
export function connectRpc<T>(
  endpoint: Endpoint,
  methods: readonly (keyof T & string)[],
  options: RpcOptions,
): RpcClient<T> {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  const previous = endpoint.onmessage;
  endpoint.onmessage = (event: MessageEvent) => {
    const reply = event.data as Reply;
    if (reply?.rpc !== "reply") return previous?.call(endpoint as never, event);
    const waiting = pending.get(reply.id);
    if (waiting === undefined) return; // answered after its deadline
    pending.delete(reply.id);
    clearTimeout(waiting.timer);
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(SequencerError.fromData(reply.error));
  };
  const call = (method: string, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          unavailable(`${options.peer} did not answer ${method} within ${options.timeoutMs} ms`),
        );
      }, options.timeoutMs);
      pending.set(id, { resolve, reject, timer });
      endpoint.postMessage({ rpc: "call", id, method, args } satisfies Call);
    });
  const remote = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of methods) remote[method] = (...args) => call(method, args);
  return {
    remote: remote as Remote<T>,
    notify(method, ...args) {
      endpoint.postMessage({ rpc: "call", id: 0, method, args } satisfies Call);
    },
    failAll(error) {
      for (const [id, waiting] of pending) {
        pending.delete(id);
        clearTimeout(waiting.timer);
        waiting.reject(error);
      }
    },
    get pending() {
      return pending.size;
    },
  };
}

/**
 * Answers calls of the `methods` of `target` arriving on `endpoint`. Calls of other names are
 * refused; a call with id 0 gets no answer.
 */
export function serveRpc<T>(
  endpoint: Endpoint,
  target: T,
  methods: readonly (keyof T & string)[],
): void {
  const allowed = new Set<string>(methods);
  const previous = endpoint.onmessage;
  endpoint.onmessage = (event: MessageEvent) => {
    const call = event.data as Call;
    if (call?.rpc !== "call") return previous?.call(endpoint as never, event);
    const answer = (reply: Reply) => {
      if (call.id !== 0) endpoint.postMessage(reply);
    };
    const fail = (error: unknown) =>
      answer({ rpc: "reply", id: call.id, ok: false, error: toErrorData(error) });
    if (!allowed.has(call.method)) {
      return fail(new SequencerError("internal", `no remote method ${call.method}`));
    }
    try {
      const method = (target as Record<string, (...args: unknown[]) => unknown>)[call.method];
      Promise.resolve(method.apply(target, call.args)).then(
        (value) => answer({ rpc: "reply", id: call.id, ok: true, value }),
        fail,
      );
    } catch (error) {
      fail(error);
    }
  };
}

/**
 * An object with the `methods` of `T` that each wait for `target` (e.g. a thread being started)
 * and call the method on it: forwarding derived from the method names, never written per method.
 */
export function forward<T, K extends keyof T & string>(
  methods: readonly K[],
  target: () => Promise<Remote<T>>,
): Remote<Pick<T, K>> {
  const forwarded = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of methods) {
    forwarded[method] = async (...args) => {
      const remote = (await target()) as Record<string, (...args: unknown[]) => Promise<unknown>>;
      return await remote[method](...args);
    };
  }
  return forwarded as Remote<Pick<T, K>>;
}

function toErrorData(error: unknown): ErrorData {
  if (error instanceof SequencerError) return error.toData();
  const message = error instanceof Error && error.name !== "Error"
    ? `${error.name}: ${error.message}`
    : errorText(error);
  return { code: "internal", message, details: undefined };
}
