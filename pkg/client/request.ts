/**
 * One logical call to the server: attempts with a per-attempt and a per-call time limit, the
 * caller's `AbortSignal`, retries with backoff on the codes that say "later", one
 * `Idempotency-Key` for every attempt of the call, and the answer's body read in full.
 *
 * @module
 */
import { errorFromAnswer, SequencerClientError } from "./error.ts";
import {
  abortedError,
  idempotencyHeader,
  newIdempotencyKey,
  retryDelay,
  type RetryPolicy,
  sleep,
} from "./retry.ts";

/** Options every call takes. */
export interface CallOptions {
  /** Stops the call (and its retries) when it aborts: the call rejects with code `aborted`. */
  signal?: AbortSignal;
  /** Milliseconds for the whole call, retries included (default: the client's `timeoutMs`). */
  timeoutMs?: number;
  /**
   * The `Idempotency-Key` of this call (default: a new random key per call, sent on each of its
   * attempts). Give your own to make a retry after a restart of your process replay the answer.
   */
  idempotencyKey?: string;
}

/** What a retry is about to do, for logging. */
export interface RetryEvent {
  /** `GET`, `PUT`, … */
  method: string;
  /** The path and query. */
  path: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Why it failed. */
  error: SequencerClientError;
  /** Milliseconds until the next attempt. */
  delayMs: number;
}

/** The transport's settings (the client's options, resolved). */
export interface Transport {
  /** The base URL without a trailing slash. */
  base: string;
  /** The `fetch` to call. */
  fetch: typeof fetch;
  /** Default milliseconds per call. */
  timeoutMs: number;
  /** Milliseconds per attempt. */
  attemptTimeoutMs: number;
  /** The retry policy. */
  retry: RetryPolicy;
  /** Whether calls that may change state send an `Idempotency-Key`. */
  idempotencyKeys: boolean;
  /** The bearer token, or a function giving the current one. */
  token: string | (() => string | Promise<string>) | undefined;
  /** Extra headers on every request. */
  headers: Headers;
  /** Called before each retry. */
  onRetry: ((event: RetryEvent) => void) | undefined;
}

/** A request of one call. */
export interface RequestSpec {
  /** The method. */
  method: "GET" | "PUT" | "PATCH" | "DELETE";
  /** The path and query, starting with `/`. */
  path: string;
  /** A JSON body. */
  body?: string;
  /** Whether the request may change state, so it carries an `Idempotency-Key`. */
  idempotent?: boolean;
}

/** A 2xx answer, read in full. */
export interface Answer {
  /** The status. */
  status: number;
  /** The body. */
  text: string;
  /** The headers. */
  headers: Headers;
}

/**
 * Sends `spec` until it gets a 2xx answer, a code that is not retried, the call's time runs out,
 * the attempts are used up, or `options.signal` aborts.
 *
 * @throws {SequencerClientError} with the last attempt's code.
 */
export async function send(
  transport: Transport,
  spec: RequestSpec,
  options: CallOptions = {},
): Promise<Answer> {
  const timeoutMs = options.timeoutMs ?? transport.timeoutMs;
  if (!(timeoutMs > 0)) {
    throw new SequencerClientError("invalid", `timeoutMs ${timeoutMs} is invalid: must be > 0`);
  }
  const deadline = performance.now() + timeoutMs;
  const key = spec.idempotent && transport.idempotencyKeys
    ? idempotencyHeader(options.idempotencyKey ?? newIdempotencyKey())
    : undefined;
  const { retry } = transport;
  for (let attempt = 1;; attempt++) {
    if (options.signal?.aborted) throw abortedError(options.signal).withAttempts(attempt - 1);
    const left = deadline - performance.now();
    let error: SequencerClientError;
    try {
      return await _attempt(transport, spec, {
        key,
        signal: options.signal,
        timeoutMs: Math.min(transport.attemptTimeoutMs, left),
        callTimeoutMs: left <= transport.attemptTimeoutMs ? timeoutMs : undefined,
      });
    } catch (caught) {
      if (!(caught instanceof SequencerClientError)) throw caught; // e.g. from the token function
      error = caught;
    }
    const remaining = deadline - performance.now();
    if (
      error.code === "aborted" || !retry.codes.includes(error.code) ||
      attempt >= retry.attempts || remaining <= 0
    ) {
      throw error.withAttempts(attempt);
    }
    const delayMs = retryDelay(retry, attempt, { retryAfterMs: error.retryAfterMs });
    if (delayMs >= remaining) throw error.withAttempts(attempt);
    transport.onRetry?.({ method: spec.method, path: spec.path, attempt, error, delayMs });
    try {
      await sleep(delayMs, options.signal);
    } catch (aborted) {
      throw (aborted as SequencerClientError).withAttempts(attempt);
    }
  }
}

/** One attempt: fetch and read the body within `timeoutMs`. */
async function _attempt(
  transport: Transport,
  spec: RequestSpec,
  options: {
    key: string | undefined;
    signal: AbortSignal | undefined;
    timeoutMs: number;
    /** Set when this attempt's limit is the call's own: the call's `timeoutMs`. */
    callTimeoutMs: number | undefined;
  },
): Promise<Answer> {
  const { signal } = options;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, Math.max(0, options.timeoutMs));
  const fail = (error: unknown): SequencerClientError => {
    if (signal?.aborted) return abortedError(signal);
    if (timedOut) {
      const what = options.callTimeoutMs === undefined
        ? `the attempt's time (attemptTimeoutMs ${transport.attemptTimeoutMs} ms) ran out`
        : `the call's time (timeoutMs ${options.callTimeoutMs} ms) ran out`;
      return new SequencerClientError("timeout", `${spec.method} ${spec.path}: ${what}`);
    }
    const message = error instanceof Error ? error.message : String(error);
    return new SequencerClientError(
      "network",
      `${spec.method} ${spec.path}: no answer (${message})`,
      { cause: error },
    );
  };
  try {
    const headers = new Headers(transport.headers);
    headers.set("accept", "application/json");
    if (spec.body !== undefined) headers.set("content-type", "application/json");
    if (options.key !== undefined) headers.set("idempotency-key", options.key);
    const token = typeof transport.token === "function" ? await transport.token() : transport.token;
    if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
    let response: Response;
    try {
      response = await transport.fetch(transport.base + spec.path, {
        method: spec.method,
        headers,
        body: spec.body,
        signal: controller.signal,
      });
    } catch (error) {
      throw fail(error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw fail(error);
    }
    if (response.ok) return { status: response.status, text, headers: response.headers };
    throw errorFromAnswer(response.status, text, {
      headers: response.headers,
      method: spec.method,
      path: spec.path,
    });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
