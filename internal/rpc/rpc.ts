/**
 * Calls between threads, derived from an interface: {@link connectRpc} gives an object with the
 * interface's methods that posts each call over a `MessagePort` (or a worker) and resolves with the
 * answer; {@link serveRpc} answers them from the real object on the other side. Every call has a
 * deadline, and {@link RpcClient.failAll} rejects everything pending at once (the other thread
 * died), so no caller waits forever. Errors cross as {@link SequencerError} data.
 *
 * Messages posted in one turn of the event loop cross together, in order, as one message (an
 * array): a thread answering many callers at once (the owner under keyed requests) pays one
 * wake-up and one copy per turn instead of one per call.
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
  method: string;
  /** When the call fails if unanswered (`performance.now()` ms). */
  deadline: number;
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
  // Calls in the order made, which is the order of their deadlines (all get the same time).
  const pending = new Map<number, Pending>();
  let nextId = 1;
  // One timer for all pending calls, set for the earliest deadline (a timer per call cost more
  // than the rest of a call).
  let watch: ReturnType<typeof setTimeout> | undefined;
  const stopWatch = () => {
    clearTimeout(watch);
    watch = undefined;
  };
  const expire = () => {
    watch = undefined;
    const now = performance.now();
    for (const [id, waiting] of pending) {
      if (waiting.deadline > now) {
        watch = setTimeout(expire, waiting.deadline - now);
        return;
      }
      pending.delete(id);
      waiting.reject(
        unavailable(
          `${options.peer} did not answer ${waiting.method} within ${options.timeoutMs} ms`,
        ),
      );
    }
  };
  const settled = (id: number): Pending | undefined => {
    const waiting = pending.get(id);
    if (waiting === undefined) return undefined; // answered after its deadline
    pending.delete(id);
    if (pending.size === 0) stopWatch();
    return waiting;
  };
  _inbox<Reply>(endpoint, "reply", (reply) => {
    const waiting = settled(reply.id);
    if (waiting === undefined) return;
    if (reply.ok) waiting.resolve(reply.value);
    else waiting.reject(SequencerError.fromData(reply.error));
  });
  const post = _outbox<Call>(endpoint, (call, error) => {
    settled(call.id)?.reject(
      unavailable(`${call.method} could not be sent to ${options.peer}: ${errorText(error)}`),
    );
  });
  const call = (method: string, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, method, deadline: performance.now() + options.timeoutMs });
      watch ??= setTimeout(expire, options.timeoutMs);
      post({ rpc: "call", id, method, args } satisfies Call);
    });
  const remote = {} as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of methods) remote[method] = (...args) => call(method, args);
  return {
    remote: remote as Remote<T>,
    notify(method, ...args) {
      post({ rpc: "call", id: 0, method, args } satisfies Call);
    },
    failAll(error) {
      stopWatch();
      for (const [id, waiting] of pending) {
        pending.delete(id);
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
  const post: (reply: Reply) => void = _outbox<Reply>(endpoint, (reply, error) => {
    // An answer that cannot be cloned becomes an error the caller gets; if even that cannot be
    // posted (the port is closed), the caller's deadline ends its wait.
    if (!reply.ok) return;
    post({ rpc: "reply", id: reply.id, ok: false, error: toErrorData(error) });
  });
  _inbox<Call>(endpoint, "call", (call) => {
    const answer = (reply: Reply) => {
      if (call.id !== 0) post(reply);
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
  });
}

/**
 * Hands `receive` each message of `kind` arriving on `endpoint` (one, or the array of a turn; see
 * {@link _outbox}); any other message goes to the handler the endpoint had before.
 */
function _inbox<M extends Call | Reply>(
  endpoint: Endpoint,
  kind: M["rpc"],
  receive: (message: M) => void,
): void {
  const previous = endpoint.onmessage;
  endpoint.onmessage = (event: MessageEvent) => {
    const data = event.data as M | M[];
    if (Array.isArray(data)) {
      if (data[0]?.rpc === kind) return data.forEach(receive);
    } else if (data?.rpc === kind) return receive(data);
    return previous?.call(endpoint as never, event);
  };
}

/**
 * Posts on `endpoint` at the end of the current turn: the messages of one turn go as one (an
 * array when there are several), in the order posted. A message that cannot be posted (it cannot
 * be cloned, or the port is closed) goes to `failed`; the others still go.
 */
function _outbox<M>(
  endpoint: Endpoint,
  failed: (message: M, error: unknown) => void,
): (message: M) => void {
  let queued: M[] | undefined;
  const flush = () => {
    const messages = queued!;
    queued = undefined;
    try {
      endpoint.postMessage(messages.length === 1 ? messages[0] : messages);
    } catch (error) {
      if (messages.length === 1) return failed(messages[0], error);
      for (const message of messages) {
        try {
          endpoint.postMessage(message);
        } catch (error) {
          failed(message, error);
        }
      }
    }
  };
  return (message) => {
    if (queued !== undefined) return void queued.push(message);
    queued = [message];
    queueMicrotask(flush);
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
