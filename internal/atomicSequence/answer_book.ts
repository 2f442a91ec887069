/**
 * Answers of requests made with an `Idempotency-Key` (the IETF httpapi draft), kept so that a retry
 * gets exactly the first answer, numbers included, after a `kill -9`, a restart, or on another
 * replica sharing the store.
 *
 * - {@link AnswerBook.begin} tells whether a key is new, in flight (`409 in_flight`), answered
 *   before with the same request (its answer is replayed), or with another (`422
 *   idempotency_mismatch`). Keys answered before are found in a cache of recent answers; one
 *   stored before this process started (or by another replica) is found when its answer is
 *   stored again: the store keeps the first, and that is what the client gets.
 * - {@link AnswerBook.finish} makes the answer durable before it is sent. Answers are stored in
 *   groups: while one commit runs, the answers arriving meanwhile wait and go together in the
 *   next (group commit), so keyed requests cost a share of one commit each, not a commit each.
 * - Answers older than the time to live are purged in the background.
 *
 * @module
 */
import { type KeyedAnswer, type KeyedStart, SequencerError } from "../domain/domain.ts";
import type { Logger } from "../log/log.ts";
import type { Store } from "../store/store.ts";

/** Options of {@link AnswerBook}. */
export interface AnswerBookOptions {
  /** How long an answer is kept for retries (ms; `IDEMPOTENCY_TTL_SEC`). */
  ttlMs: number;
  /** Where purge failures are logged. */
  logger: Logger;
  /** Most recent answers kept in memory (default 100,000). */
  cacheSize?: number;
  /** Most answers stored in one commit (default 1,000). */
  batchMax?: number;
  /** How often expired answers are purged (ms, default 60 s). */
  purgeEveryMs?: number;
}

interface Recent {
  answer: KeyedAnswer;
  at: number;
}

interface Pending {
  answer: KeyedAnswer;
  resolve(stored: KeyedAnswer): void;
  reject(error: unknown): void;
}

/** Keeps keyed answers; one per process, on the owner's thread. */
export class AnswerBook {
  readonly #store: Store;
  readonly #options: Required<AnswerBookOptions>;
  /** Keys whose first request is being answered, with its fingerprint. */
  readonly #inFlight = new Map<string, string>();
  /**
   * Recent answers in two generations: new ones go into the first; when it holds half the cache
   * size it becomes the second and the old second is dropped. No eviction walks a map (taking a
   * map's oldest key walks past every key deleted before it, which made each keyed request slower
   * once the cache was full).
   */
  #recent = new Map<string, Recent>();
  #older = new Map<string, Recent>();
  #queue: Pending[] = [];
  #committing: Promise<void> | undefined;
  #purgeTimer: ReturnType<typeof setInterval> | undefined;

  constructor(store: Store, options: AnswerBookOptions) {
    this.#store = store;
    this.#options = { cacheSize: 100_000, batchMax: 1_000, purgeEveryMs: 60_000, ...options };
    this.#purgeTimer = setInterval(() => this.#purge(), this.#options.purgeEveryMs);
  }

  /**
   * Starts answering `key` for a request identified by `fingerprint`.
   * @throws {SequencerError} `in_flight` when its first request is still being answered,
   * `idempotency_mismatch` when it was answered for another request.
   */
  begin(key: string, fingerprint: string): KeyedStart {
    const flying = this.#inFlight.get(key);
    if (flying !== undefined) {
      if (flying !== fingerprint) throw mismatch(key);
      throw new SequencerError(
        "in_flight",
        `the first request with this Idempotency-Key is still being answered; retry later`,
      );
    }
    const recent = this.#recent.get(key) ?? this.#older.get(key);
    if (recent !== undefined && performance.now() - recent.at < this.#options.ttlMs) {
      if (recent.answer.fingerprint !== fingerprint) throw mismatch(key);
      return { state: "answered", answer: recent.answer };
    }
    this.#inFlight.set(key, fingerprint);
    return { state: "new" };
  }

  /**
   * Ends the request begun for `key`: with an answer, stores it durably and resolves the answer
   * stored for the key (the given one, or the first one if another request stored it before);
   * without one (nothing worth replaying, e.g. a 503), frees the key for a retry.
   * @throws {SequencerError} `unavailable` when the store failed: nothing was stored.
   */
  async finish(
    key: string,
    fingerprint: string,
    answer?: { status: number; body: string },
  ): Promise<KeyedAnswer | undefined> {
    try {
      if (answer === undefined) return undefined;
      const stored = await new Promise<KeyedAnswer>((resolve, reject) => {
        this.#queue.push({ answer: { key, fingerprint, ...answer }, resolve, reject });
        this.#committing ??= this.#commit();
      });
      if (stored.fingerprint !== fingerprint) throw mismatch(key);
      this.#remember(stored);
      return stored;
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Commits the queued answers in groups until none is left. */
  async #commit(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, this.#options.batchMax);
        try {
          const stored = await this.#store.saveAnswers(group.map((p) => p.answer));
          group.forEach((pending, i) => pending.resolve(stored[i]));
        } catch (error) {
          for (const pending of group) pending.reject(error);
        }
      }
    } finally {
      this.#committing = undefined;
    }
  }

  #remember(answer: KeyedAnswer): void {
    this.#recent.set(answer.key, { answer, at: performance.now() });
    if (this.#recent.size >= Math.max(1, this.#options.cacheSize / 2)) {
      this.#older = this.#recent;
      this.#recent = new Map();
    }
  }

  async #purge(): Promise<void> {
    const limit = 10_000;
    try {
      while ((await this.#store.purgeAnswers(this.#options.ttlMs, limit)) === limit) { /* more */ }
    } catch (error) {
      this.#options.logger.warn("expired keyed answers could not be purged; retrying later", {
        error,
      });
    }
  }

  /** Stops purging; waits for the commit under way. */
  async close(): Promise<void> {
    clearInterval(this.#purgeTimer);
    await this.#committing;
  }
}

function mismatch(key: string): SequencerError {
  return new SequencerError(
    "idempotency_mismatch",
    `this Idempotency-Key was used for another request; a key belongs to one request ` +
      `(same method, path, parameters and body)`,
    { details: { key: key.slice(0, 64) } },
  );
}
