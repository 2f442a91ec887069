/**
 * The one error every call of the client rejects with: the server's error code (or a code of the
 * client's own for failures with no answer), the HTTP status, the details and how long the server
 * asked to wait.
 *
 * @module
 */
import { isJsonObject, type JsonValue, parseJson } from "./json.ts";

/**
 * Codes the server answers with. Codes it may add later arrive as they are (`code` is a string).
 * `idempotency_mismatch` (422) and `in_flight` (409) are the names this client expects for the
 * `Idempotency-Key` answers.
 */
export type ServerErrorCode =
  | "invalid"
  | "not_found"
  | "no_route"
  | "method_not_allowed"
  | "conflict"
  | "exhausted"
  | "retired"
  | "too_large"
  | "request_timeout"
  | "unauthorized"
  | "forbidden"
  | "rate_limited"
  | "too_many"
  | "unavailable"
  | "idempotency_mismatch"
  | "in_flight"
  | "internal";

/**
 * Codes of failures without a usable answer: `network` (no answer: refused, reset, DNS),
 * `timeout` (the call's or one attempt's time ran out), `aborted` (the caller's `AbortSignal`),
 * `closed` (the prefetcher was closed), `bad_response` (an answer the client cannot read).
 */
export type ClientErrorCode = "network" | "timeout" | "aborted" | "closed" | "bad_response";

/** Every code a {@link SequencerClientError} may carry. */
// deno-lint-ignore ban-types
export type ErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

/** Options of {@link SequencerClientError}. */
export interface SequencerClientErrorOptions {
  /** The HTTP status; absent when no answer arrived. */
  status?: number;
  /** The `details` of the server's answer. Integers in it are bigints. */
  details?: Record<string, JsonValue>;
  /** Milliseconds the server asked to wait (`Retry-After`). */
  retryAfterMs?: number;
  /** How many attempts the call made. */
  attempts?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** A failed call: the server's error code and status, or a {@link ClientErrorCode}. */
export class SequencerClientError extends Error {
  /** The server's `code` (e.g. `not_found`), or a {@link ClientErrorCode}. */
  readonly code: ErrorCode;
  /** The HTTP status; `undefined` when no answer arrived. */
  readonly status: number | undefined;
  /** The server's `details` (e.g. `remaining` of `exhausted`); `{}` when none. */
  readonly details: Record<string, JsonValue>;
  /** Milliseconds the server asked to wait before trying again (`Retry-After`), if it did. */
  readonly retryAfterMs: number | undefined;
  /** How many attempts the call made before it failed (1 when it was not retried). */
  readonly attempts: number;

  /** @param code the code. @param message what failed. */
  constructor(code: ErrorCode, message: string, options: SequencerClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SequencerClientError";
    this.code = code;
    this.status = options.status;
    this.details = options.details ?? {};
    this.retryAfterMs = options.retryAfterMs;
    this.attempts = options.attempts ?? 1;
  }

  /** A copy that records `attempts`. */
  withAttempts(attempts: number): SequencerClientError {
    return new SequencerClientError(this.code, this.message, {
      status: this.status,
      details: this.details,
      retryAfterMs: this.retryAfterMs,
      attempts,
      cause: this.cause,
    });
  }
}

/**
 * Milliseconds of a `Retry-After` header (delay-seconds or an HTTP date, RFC 9110 §10.2.3);
 * `undefined` when absent or unreadable. `now` is the clock in epoch milliseconds.
 */
export function parseRetryAfter(
  value: string | null,
  options: { now?: number } = {},
): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Math.min(Number(text), 86_400) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - (options.now ?? Date.now()));
}

/** Codes of statuses whose answer may come from a proxy without a JSON body. */
const PROXY_CODES: Readonly<Record<number, ServerErrorCode>> = Object.freeze({
  408: "request_timeout",
  429: "rate_limited",
  502: "unavailable",
  503: "unavailable",
  504: "unavailable",
});

/**
 * The error of a non-2xx answer with `body` (its text). A JSON error body gives its code, message
 * and details; anything else (a proxy's page) gets a code from the status.
 */
export function errorFromAnswer(
  status: number,
  body: string,
  options: { headers?: Headers; method?: string; path?: string } = {},
): SequencerClientError {
  const retryAfterMs = parseRetryAfter(options.headers?.get("retry-after") ?? null);
  const where = options.method === undefined ? "" : ` (${options.method} ${options.path ?? ""})`;
  let parsed: JsonValue | undefined;
  try {
    parsed = parseJson(body);
  } catch {
    parsed = undefined;
  }
  if (isJsonObject(parsed) && typeof parsed.code === "string") {
    const message = typeof parsed.error === "string" ? parsed.error : `error ${parsed.code}`;
    return new SequencerClientError(parsed.code, `${message}${where}`, {
      status,
      details: isJsonObject(parsed.details) ? parsed.details : {},
      retryAfterMs,
    });
  }
  const code = PROXY_CODES[status] ?? "bad_response";
  const text = isJsonObject(parsed) && typeof parsed.error === "string" ? parsed.error : body;
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new SequencerClientError(
    code,
    `HTTP ${status} without an error code${where}: ${JSON.stringify(excerpt)}`,
    { status, retryAfterMs },
  );
}
