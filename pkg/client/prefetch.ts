/**
 * {@link Prefetcher}: Leaf's double buffer on the client. Numbers come from a local buffer that
 * `?count=` batches refill in the background once it falls below a low-water mark, so
 * {@link Prefetcher.take} is synchronous while the buffer has numbers.
 *
 * The batch size adapts: a batch used up in less than half of `batchLifetimeMs` doubles the next
 * one, a batch that lasted more than twice as long halves it, within `minBatch..maxBatch`.
 *
 * **Gaps:** numbers in the buffer when the process exits (or when {@link Prefetcher.close} runs)
 * are never handed out by anyone: a gap, never a repeat. At most about `(1 + lowWater)` batches
 * are buffered, which the adaptive size keeps near `batchLifetimeMs` of consumption.
 *
 * @module
 */
import type { SequencerClient } from "./client.ts";
import { SequencerClientError } from "./error.ts";
import { abortedError, newIdempotencyKey, RETRYABLE_CODES } from "./retry.ts";
import type { Batch } from "./answers.ts";

/** Options of {@link Prefetcher}. */
export interface PrefetchOptions {
  /** The sequence (default `default`). */
  sequence?: string;
  /** Smallest batch (default 10). */
  minBatch?: number;
  /** Largest batch (default 100,000: the server's default `BATCH_MAX`; never above the server's). */
  maxBatch?: number;
  /** First batch (default 100, within `minBatch..maxBatch`). */
  initialBatch?: number;
  /** Refill when fewer than this fraction of a batch is buffered, in (0, 1] (default 0.5). */
  lowWater?: number;
  /** How long one batch should last, in milliseconds (default 1,000). */
  batchLifetimeMs?: number;
  /** Milliseconds each refill may take, retries included (default: the client's `timeoutMs`). */
  timeoutMs?: number;
  /** Fill the buffer at once (default true); false waits for the first take. */
  eager?: boolean;
  /** Called when a background refill fails (the takes waiting for it reject with the error). */
  onError?: (error: SequencerClientError) => void;
  /** The clock in milliseconds (default `performance.now`), for tests. */
  now?: () => number;
}

/** Options of a {@link Prefetcher.take} that has to wait. */
export interface TakeOptions {
  /** Stops waiting: the take rejects with code `aborted`. */
  signal?: AbortSignal;
  /** Milliseconds to wait for a refill before rejecting with code `timeout`. */
  timeoutMs?: number;
}

/** Counters of a {@link Prefetcher}. */
export interface PrefetchStats {
  /** The size of the next batch. */
  batchSize: number;
  /** Numbers in the buffer now. */
  buffered: number;
  /** Numbers handed to callers. */
  taken: number;
  /** Numbers received from the server. */
  fetched: number;
  /** Numbers dropped by `close` (a gap). */
  discarded: number;
  /** Batches received (successful refill calls). */
  batches: number;
  /** Refill calls that failed. */
  failures: number;
  /** Takes that found the buffer empty and had to wait. */
  waits: number;
}

interface Range {
  next: bigint;
  last: bigint;
}

interface Waiter {
  resolve(value: bigint): void;
  reject(error: SequencerClientError): void;
}

/** Milliseconds between background refills after a failure, doubled per failure up to the max. */
const FAILURE_DELAY_MS = 100;
const FAILURE_DELAY_MAX_MS = 5_000;

/**
 * A local buffer of numbers of one sequence, refilled in the background. Take numbers with
 * {@link take} (a `bigint` at once while the buffer has numbers, else a promise) or
 * {@link tryTake}; {@link close} stops all background work.
 *
 * ```ts
 * const ids = client.prefetch({ sequence: "orders" });
 * try {
 *   const id = ids.tryTake() ?? await ids.take();
 * } finally {
 *   await ids.close();
 * }
 * ```
 */
export class Prefetcher {
  readonly #client: SequencerClient;
  readonly #sequence: string | undefined;
  readonly #minBatch: number;
  readonly #maxBatch: number;
  readonly #lowWater: number;
  readonly #lifetimeMs: number;
  readonly #timeoutMs: number | undefined;
  readonly #onError: ((error: SequencerClientError) => void) | undefined;
  readonly #now: () => number;
  readonly #controller = new AbortController();

  /** Buffered ranges, oldest first; `#head` is `#ranges[0]`. */
  #ranges: Range[] = [];
  #head: Range | undefined;
  #buffered = 0;
  #batch: number;
  #lowWaterCount: number;
  #waiters: Waiter[] = [];
  #refilling: Promise<void> | undefined;
  /** The refill that failed with its answer unknown: repeated with the same key and count. */
  #pending: { key: string; count: number } | undefined;
  /** When the last refill that followed a successful one started (for the adaptive size). */
  #triggeredAt: number | undefined;
  #lastOk = true;
  #consecutiveFailures = 0;
  #retryAt = 0;
  #closed: SequencerClientError | undefined;
  #stats = { fetched: 0, discarded: 0, batches: 0, failures: 0, waits: 0 };

  /**
   * @param client the client whose `nextBatch` refills the buffer.
   * @param options sequence, batch bounds, low-water mark.
   */
  constructor(client: SequencerClient, options: PrefetchOptions = {}) {
    this.#client = client;
    this.#sequence = options.sequence;
    this.#minBatch = options.minBatch ?? 10;
    this.#maxBatch = options.maxBatch ?? 100_000;
    this.#lowWater = options.lowWater ?? 0.5;
    this.#lifetimeMs = options.batchLifetimeMs ?? 1_000;
    this.#timeoutMs = options.timeoutMs;
    this.#onError = options.onError;
    this.#now = options.now ?? (() => performance.now());
    if (!(Number.isSafeInteger(this.#minBatch) && this.#minBatch >= 1)) {
      throw new RangeError(`minBatch ${this.#minBatch} is invalid: must be an integer >= 1`);
    }
    if (!(Number.isSafeInteger(this.#maxBatch) && this.#maxBatch >= this.#minBatch)) {
      throw new RangeError(`maxBatch ${this.#maxBatch} is invalid: must be an integer >= minBatch`);
    }
    if (!(this.#lowWater > 0 && this.#lowWater <= 1)) {
      throw new RangeError(`lowWater ${this.#lowWater} is invalid: must be in (0, 1]`);
    }
    if (!(this.#lifetimeMs > 0)) {
      throw new RangeError(`batchLifetimeMs ${this.#lifetimeMs} is invalid: must be > 0`);
    }
    const initial = options.initialBatch ?? 100;
    if (!Number.isSafeInteger(initial)) {
      throw new RangeError(`initialBatch ${initial} is invalid: must be an integer`);
    }
    this.#batch = Math.min(this.#maxBatch, Math.max(this.#minBatch, initial));
    this.#lowWaterCount = Math.ceil(this.#batch * this.#lowWater);
    if (options.eager ?? true) this.#startRefill();
  }

  /**
   * The next number: a `bigint` at once while the buffer has numbers, else a promise that
   * resolves when a refill arrives (rejects with the refill's error, or `closed`).
   */
  take(options?: TakeOptions): bigint | Promise<bigint> {
    const head = this.#head;
    if (head !== undefined) return this.#takeFrom(head);
    return this.#wait(options);
  }

  /**
   * The next number if the buffer has one, else `undefined` (a refill is then under way).
   *
   * @throws {SequencerClientError} `closed` after {@link close}.
   */
  tryTake(): bigint | undefined {
    const head = this.#head;
    if (head === undefined) {
      if (this.#closed !== undefined) throw this.#closed;
      if (this.#refilling === undefined) this.#startRefill();
      return undefined;
    }
    return this.#takeFrom(head);
  }

  /** Takes the next number of `head` (the oldest range), refilling below the low-water mark. */
  #takeFrom(head: Range): bigint {
    const n = head.next;
    if (n === head.last) this.#advance();
    else head.next = n + 1n;
    if (--this.#buffered < this.#lowWaterCount && this.#refilling === undefined) {
      this.#startRefill();
    }
    return n;
  }

  /** The counters (see {@link PrefetchStats}). */
  stats(): PrefetchStats {
    const { fetched, discarded } = this.#stats;
    return {
      ...this.#stats,
      batchSize: this.#batch,
      buffered: this.#buffered,
      taken: fetched - this.#buffered - discarded,
    };
  }

  /**
   * Stops the prefetcher: the refill under way is aborted, waiting takes reject with `closed`,
   * the buffered numbers are dropped (a gap). Resolves once no background work is left.
   */
  async close(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = new SequencerClientError("closed", "the prefetcher is closed");
      this.#controller.abort(this.#closed);
      this.#stats.discarded += this.#buffered;
      this.#buffered = 0;
      this.#ranges = [];
      this.#head = undefined;
      this.#rejectWaiters(this.#closed);
    }
    await this.#refilling;
  }

  #advance(): void {
    this.#ranges.shift();
    this.#head = this.#ranges[0];
  }

  #wait(options: TakeOptions | undefined): Promise<bigint> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    this.#stats.waits++;
    return new Promise<bigint>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        resolve: (value) => {
          done();
          resolve(value);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const leave = (error: SequencerClientError) => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        waiter.reject(error);
      };
      const onAbort = () => leave(abortedError(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      if (options?.timeoutMs !== undefined) {
        const ms = options.timeoutMs;
        timer = setTimeout(
          () =>
            leave(
              new SequencerClientError("timeout", `no number arrived within timeoutMs ${ms} ms`),
            ),
          ms,
        );
      }
      this.#waiters.push(waiter);
      if (this.#refilling === undefined) this.#startRefill();
    });
  }

  #rejectWaiters(error: SequencerClientError): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Starts a refill unless one runs, the prefetcher is closed, or a failure's pause lasts. */
  #startRefill(): void {
    if (this.#refilling !== undefined || this.#closed !== undefined) return;
    const now = this.#now();
    if (this.#waiters.length === 0 && now < this.#retryAt) return;
    if (this.#lastOk && this.#triggeredAt !== undefined) this.#adapt(now - this.#triggeredAt);
    this.#triggeredAt = now;
    this.#refilling = this.#refill().finally(() => {
      this.#refilling = undefined;
      if (
        this.#closed === undefined && this.#lastOk &&
        (this.#waiters.length > 0 || this.#buffered < this.#lowWaterCount)
      ) {
        this.#startRefill();
      }
    });
  }

  /** Doubles or halves the batch from how long the last one lasted. */
  #adapt(lastedMs: number): void {
    let batch = this.#batch;
    if (lastedMs < this.#lifetimeMs / 2) batch = Math.min(this.#maxBatch, batch * 2);
    else if (lastedMs > this.#lifetimeMs * 2) {
      batch = Math.max(this.#minBatch, Math.floor(batch / 2));
    }
    this.#batch = batch;
    this.#lowWaterCount = Math.ceil(batch * this.#lowWater);
  }

  async #refill(): Promise<void> {
    for (;;) {
      const request = this.#pending ?? { key: newIdempotencyKey(), count: this.#batch };
      this.#pending = request;
      let batch: Batch;
      try {
        batch = await this.#client.nextBatch(request.count, {
          sequence: this.#sequence,
          signal: this.#controller.signal,
          timeoutMs: this.#timeoutMs,
          idempotencyKey: request.key,
        });
      } catch (caught) {
        if (this.#closed !== undefined) return;
        const error = caught instanceof SequencerClientError
          ? caught
          : new SequencerClientError("bad_response", String(caught), { cause: caught });
        const remaining = error.code === "exhausted" ? error.details.remaining : undefined;
        if (typeof remaining === "bigint" && remaining > 0n && remaining < request.count) {
          // All or nothing near the 64-bit top: take what is left.
          this.#pending = { key: newIdempotencyKey(), count: Number(remaining) };
          continue;
        }
        // Repeat the same request (key and count) only when its outcome is unknown.
        if (error.status !== undefined && !RETRYABLE_CODES.includes(error.code)) {
          this.#pending = undefined;
        }
        this.#lastOk = false;
        this.#stats.failures++;
        this.#consecutiveFailures++;
        this.#retryAt = this.#now() +
          Math.min(FAILURE_DELAY_MAX_MS, FAILURE_DELAY_MS * 2 ** (this.#consecutiveFailures - 1));
        this.#rejectWaiters(error);
        this.#onError?.(error);
        return;
      }
      this.#pending = undefined;
      this.#lastOk = true;
      this.#consecutiveFailures = 0;
      this.#retryAt = 0;
      if (this.#closed !== undefined) {
        this.#stats.discarded += batch.count;
        this.#stats.fetched += batch.count;
        return;
      }
      this.#deliver(batch);
      return;
    }
  }

  /** Hands the batch to the waiting takes first, in order, and buffers the rest. */
  #deliver(batch: Batch): void {
    this.#stats.batches++;
    this.#stats.fetched += batch.count;
    let next = batch.first;
    const waiters = this.#waiters;
    let served = 0;
    while (served < waiters.length && next <= batch.last) {
      waiters[served++].resolve(next);
      next++;
    }
    if (served > 0) waiters.splice(0, served);
    if (next > batch.last) return;
    this.#ranges.push({ next, last: batch.last });
    this.#head = this.#ranges[0];
    this.#buffered += Number(batch.last - next) + 1;
  }
}
