/**
 * When and how long a call waits before it tries again, and the `Idempotency-Key` it repeats on
 * every try.
 *
 * @module
 */
import { SequencerClientError } from "./error.ts";

/** How a call retries. */
export interface RetryOptions {
  /** Most attempts per call, the first included (default 10; 1 never retries). */
  attempts?: number;
  /** Backoff before the second attempt, doubled on each further one (default 50 ms). */
  initialDelayMs?: number;
  /** Largest backoff (default 2,000 ms). A server's `Retry-After` is honoured above it. */
  maxDelayMs?: number;
  /** Codes that are retried (default {@link RETRYABLE_CODES}). */
  codes?: readonly string[];
}

/**
 * Codes retried by default: no answer (`network`), an attempt that ran out of time (`timeout`),
 * and the answers that say "later" (`unavailable`, `request_timeout`, `rate_limited`, and
 * `in_flight`: the same `Idempotency-Key` is still being served).
 */
export const RETRYABLE_CODES: readonly string[] = Object.freeze([
  "network",
  "timeout",
  "unavailable",
  "request_timeout",
  "rate_limited",
  "in_flight",
]);

/** {@link RetryOptions} with every default filled in. */
export type RetryPolicy = Required<RetryOptions>;

/** The policy of `options` (`false`: never retry). */
export function retryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  if (options === false) {
    return { attempts: 1, initialDelayMs: 0, maxDelayMs: 0, codes: [] };
  }
  const policy = {
    attempts: options?.attempts ?? 10,
    initialDelayMs: options?.initialDelayMs ?? 50,
    maxDelayMs: options?.maxDelayMs ?? 2_000,
    codes: options?.codes ?? RETRYABLE_CODES,
  };
  if (
    !(Number.isInteger(policy.attempts) && policy.attempts >= 1) && policy.attempts !== Infinity
  ) {
    throw new RangeError(`retry.attempts ${policy.attempts} is invalid: must be an integer >= 1`);
  }
  if (!(policy.initialDelayMs >= 0 && policy.maxDelayMs >= policy.initialDelayMs)) {
    throw new RangeError(
      `retry delays ${policy.initialDelayMs}..${policy.maxDelayMs} ms are invalid: ` +
        `must be 0 <= initialDelayMs <= maxDelayMs`,
    );
  }
  return policy;
}

/**
 * Milliseconds to wait after failed attempt number `attempt` (1-based): the server's
 * `Retry-After` when it gave one, else an exponential backoff with full jitter (`random` in
 * [0, 1)), so many clients that failed together do not come back together.
 */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  options: { retryAfterMs?: number; random?: number } = {},
): number {
  if (options.retryAfterMs !== undefined) return options.retryAfterMs;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (options.random ?? Math.random()));
}

/** Resolves after `ms`; rejects with an `aborted` error as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The error of a call stopped by its caller's `signal`. */
export function abortedError(signal: AbortSignal): SequencerClientError {
  const reason = signal.reason;
  const why = reason instanceof Error ? `: ${reason.message}` : "";
  return new SequencerClientError("aborted", `the call was aborted by its signal${why}`, {
    cause: reason,
  });
}

/** A new random `Idempotency-Key` value (a UUID v4), from `crypto.getRandomValues`. */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/**
 * The header value of `key`: a Structured Field string (RFC 8941), as the IETF httpapi draft
 * defines `Idempotency-Key`, e.g. `"8e03978e-40d5-43e8-bc93-6894a57f9324"`.
 *
 * @throws {SequencerClientError} `invalid` when `key` is empty or not printable ASCII.
 */
export function idempotencyHeader(key: string): string {
  if (!/^[\x20-\x7e]{1,255}$/.test(key)) {
    throw new SequencerClientError(
      "invalid",
      `idempotency key ${JSON.stringify(key.slice(0, 40))} is invalid: must be 1 to 255 ` +
        `printable ASCII characters`,
    );
  }
  return `"${key.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
