/**
 * The one JSON answer helper every handler uses. Bigints are written as exact JSON numbers (never
 * rounded through `number`); every error is `{"status":"error","code":…,"error":…}`.
 *
 * @module
 */
import {
  ERROR_STATUS,
  type ErrorCode,
  type ErrorDetails,
  SequencerError,
} from "../domain/domain.ts";

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJSON(value.toString()) : value;
}

/** Serializes `body` as JSON, writing bigints as exact digits. */
export function toJson(body: unknown): string {
  return JSON.stringify(body, replacer);
}

/** The JSON content type every JSON answer carries. */
export const JSON_CONTENT_TYPE = "application/json";

/** A JSON response with the given status and extra headers. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(toJson(body), {
    status,
    headers: { "content-type": JSON_CONTENT_TYPE, ...headers },
  });
}

/**
 * An error answer: the status of `code`, `{"status":"error","code":code,"error":message}` plus
 * `details` when given, and `Retry-After`: 1 on a 503 (the condition is expected to pass), the
 * wait of `details.retryAfterSec` on a 429.
 */
export function jsonError(
  code: ErrorCode,
  message: string,
  options: { details?: ErrorDetails; headers?: Record<string, string> } = {},
): Response {
  const status = ERROR_STATUS[code];
  const body: Record<string, unknown> = { status: "error", code, error: message };
  if (options.details !== undefined) body.details = options.details;
  // A 503 passes within a second or so; a 429 says when (its details carry the wait).
  const wait = status === 429 ? options.details?.retryAfterSec : status === 503 ? 1 : undefined;
  const retry: Record<string, string> = wait === undefined ? {} : { "retry-after": String(wait) };
  return json(status, body, { ...retry, ...options.headers });
}

/** The answer of a {@link SequencerError}; `undefined` for any other value (a bug: the caller's 500). */
export function errorAnswer(error: unknown): Response | undefined {
  if (!(error instanceof SequencerError)) return undefined;
  return jsonError(error.code, error.message, { details: error.details });
}
