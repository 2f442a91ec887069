/**
 * A client of the Sequencer HTTP API, with `fetch` only: it runs on Deno, Node.js 20+ and
 * browsers. Numbers are exact `bigint`s (answers are read with `?numbers=string` and an exact
 * JSON parser, so nothing above 2^53 is rounded).
 *
 * ```ts
 * import { SequencerClient } from "./mod.ts";
 *
 * const client = new SequencerClient("http://localhost:3000", { timeoutMs: 10_000 });
 * const id = await client.next();                                  // 1n
 * const batch = await client.nextBatch(100, { sequence: "orders" }); // { first, last, count }
 *
 * // Prefetch: numbers from a local buffer that batches refill in the background.
 * const ids = client.prefetch({ sequence: "orders" });
 * try {
 *   const fast = ids.tryTake() ?? await ids.take();
 * } finally {
 *   await ids.close();
 * }
 * ```
 *
 * **Errors.** Every call rejects with a {@link SequencerClientError}: `code` is the server's
 * error code (`not_found`, `conflict`, `exhausted`, `unavailable`, …) or the client's own
 * (`network`, `timeout`, `aborted`, `closed`, `bad_response`); `status`, `details` and
 * `retryAfterMs` come from the answer.
 *
 * **Retries.** A call is retried, with exponential backoff and the server's `Retry-After`, on
 * `network`, `timeout` (of one attempt), `unavailable`, `request_timeout`, `rate_limited` and
 * `in_flight`, until it succeeds, its `timeoutMs` runs out or its `signal` aborts. Every attempt
 * of one call carries the same `Idempotency-Key`: a server that supports it answers a retry with
 * the first answer, so a retry neither repeats nor wastes a batch. Against a server without it, a
 * retry after a lost answer wastes the numbers of that answer (a gap, never a repeat).
 *
 * **The gap trade-off of prefetching.** A {@link Prefetcher} holds numbers the server has
 * already handed out. Numbers prefetched and not used are lost when the process exits or the
 * prefetcher is closed: they leave a gap in the sequence and are never handed out to anyone, so
 * there is never a repeat. The buffer holds up to about `1 + lowWater` batches, and the batch
 * adapts so that one lasts about `batchLifetimeMs` (default 1 s) of your consumption, within
 * `minBatch..maxBatch`. Use {@link SequencerClient.next} (no buffer) where gaps must be rare,
 * and a prefetcher where throughput matters more than dense numbers.
 *
 * @module
 */
export {
  type ClientOptions,
  type CreateOptions,
  DEFAULT_SEQUENCE,
  type ListOptions,
  type NextOptions,
  SEQUENCE_NAME,
  SequencerClient,
} from "./client.ts";
export type {
  Batch,
  CreateResult,
  FloorResult,
  Numbering,
  RetireResult,
  SequenceInfo,
  SequencePage,
  Taken,
} from "./answers.ts";
export {
  type ClientErrorCode,
  type ErrorCode,
  SequencerClientError,
  type SequencerClientErrorOptions,
  type ServerErrorCode,
} from "./error.ts";
export {
  Prefetcher,
  type PrefetchOptions,
  type PrefetchStats,
  type TakeOptions,
} from "./prefetch.ts";
export type { CallOptions, RetryEvent } from "./request.ts";
export { RETRYABLE_CODES, type RetryOptions } from "./retry.ts";
export { type JsonValue, parseJson } from "./json.ts";
