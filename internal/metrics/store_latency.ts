/**
 * How long the store takes to commit a block, as a Prometheus histogram
 * (`sequencer_store_commit_duration_seconds`). The owner reports every committed block through its
 * `onReserve` hook (in the main thread, once per block, never per request); {@link CommitLatency}
 * counts it in fixed buckets, and `/debug/metrics` renders the counts when scraped.
 *
 * Only commits that succeeded are counted: a failed reservation is counted by
 * `sequencer_block_reservation_failures_total` instead.
 *
 * @module
 */

/**
 * Upper bounds of the buckets, in seconds: from half a millisecond (an embedded commit on a fast
 * disk) to ten seconds (a stalled PostgreSQL), roughly ×2.5 apart.
 */
export const COMMIT_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/** The counts of a histogram at one moment. */
export interface HistogramSnapshot {
  /** Upper bounds (seconds), increasing; the `+Inf` bucket is implied. */
  bounds: readonly number[];
  /** Cumulative count of observations at or below each bound. */
  cumulative: number[];
  /** Every observation (the `+Inf` bucket). */
  count: number;
  /** Sum of the observations, seconds. */
  sum: number;
}

/** Counts store commit durations in {@link COMMIT_BUCKETS_SECONDS}; one per process. */
export class CommitLatency {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #count = 0;
  #sum = 0;

  /** @param bounds bucket upper bounds in seconds, increasing (default {@link COMMIT_BUCKETS_SECONDS}). */
  constructor(bounds: readonly number[] = COMMIT_BUCKETS_SECONDS) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  /** Counts one commit that took `seconds`. */
  observe(seconds: number): void {
    const value = Math.max(0, seconds);
    this.#count++;
    this.#sum += value;
    const i = this.#bounds.findIndex((bound) => value <= bound);
    if (i >= 0) this.#counts[i]++;
  }

  /**
   * The owner's `onReserve` hook: counts the commit of a block from the reservation's start to
   * the store's answer (`performance.now()` milliseconds).
   */
  readonly onReserve = (
    _name: string,
    _size: bigint,
    startedMs: number,
    committedMs: number,
  ): void => this.observe((committedMs - startedMs) / 1000);

  /** The counts now, cumulative as the text format wants them. */
  snapshot(): HistogramSnapshot {
    let running = 0;
    const cumulative = this.#counts.map((n) => (running += n));
    return { bounds: this.#bounds, cumulative, count: this.#count, sum: this.#sum };
  }
}

/** A bucket bound as the text format writes it (`0.0005`, `1`, `+Inf`). */
function bound(value: number): string {
  return Number.isFinite(value) ? String(value) : "+Inf";
}

/**
 * One histogram family in the text format: `HELP`, `TYPE`, a `_bucket` line per bound and `+Inf`,
 * then `_sum` and `_count`.
 */
export function renderHistogram(
  snapshot: HistogramSnapshot,
  family: { name: string; help: string },
): string {
  const { name, help } = family;
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  snapshot.bounds.forEach((le, i) => {
    lines.push(`${name}_bucket{le="${bound(le)}"} ${snapshot.cumulative[i]}`);
  });
  lines.push(`${name}_bucket{le="+Inf"} ${snapshot.count}`);
  lines.push(`${name}_sum ${snapshot.sum}`);
  lines.push(`${name}_count ${snapshot.count}`);
  return lines.join("\n");
}
