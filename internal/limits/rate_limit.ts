/**
 * Token buckets, one per key (a client, a sequence), for limits that protect the other clients:
 * a bucket holds at most `burst` tokens and refills at `ratePerSec`; a request costing more than
 * its bucket holds is refused with the time after which it would fit. The number of buckets is
 * bounded: past `maxKeys`, the least recently used one is dropped (it starts full again).
 *
 * @module
 */

/** Options of {@link createRateLimit}. */
export interface RateLimitOptions {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Most tokens a bucket holds (and the largest cost that can ever pass). */
  burst: number;
  /** Most buckets kept (default 10,000). */
  maxKeys?: number;
  /** The clock (ms), for tests. */
  now?: () => number;
}

/** A limit over many keys. */
export interface RateLimit {
  /**
   * Takes `cost` tokens from the bucket of `key`: 0 when they were there, else how many
   * milliseconds until they would be (nothing is taken then).
   */
  take(key: string, cost?: number): number;
}

/** A token-bucket limit; see the module documentation. */
export function createRateLimit(options: RateLimitOptions): RateLimit {
  const { ratePerSec, burst } = options;
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, cost = 1) {
      const t = now();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = { tokens: burst, at: t };
        if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value!);
      } else {
        buckets.delete(key); // re-inserted below: the map stays in least-recently-used order
        bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * ratePerSec);
        bucket.at = t;
      }
      buckets.set(key, bucket);
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost;
        return 0;
      }
      const missing = Math.min(cost, burst) - bucket.tokens;
      return Math.max(1, Math.ceil((missing / ratePerSec) * 1000));
    },
  };
}
