/**
 * Adaptive block sizing. A block that drained quickly means the rate outgrew it: the next one is
 * twice as large. A block that lasted long means the rate is low: the next one is half as large,
 * so a crash wastes fewer numbers. Sizes stay within documented bounds.
 *
 * @module
 */

/** Bounds and thresholds of adaptive block sizing. */
export interface BlockSizing {
  /** Smallest block (and the first one). */
  min: bigint;
  /** Largest block. */
  max: bigint;
  /** A block drained faster than this grows the next one (ms). */
  growBelowMs: number;
  /** A block that lasted longer than this shrinks the next one (ms). */
  shrinkAboveMs: number;
}

/** The defaults documented in the README: 100 … 10,000,000, grow under 1 s, shrink over 60 s. */
export const DEFAULT_SIZING: BlockSizing = {
  min: 100n,
  max: 10_000_000n,
  growBelowMs: 1_000,
  shrinkAboveMs: 60_000,
};

/**
 * The size of the next block, from the size of the last one and how long it lasted. Pure.
 * @param previous size of the last block.
 * @param lastedMs how long the last block lasted (from its install to the next refill request).
 */
export function nextBlockSize(previous: bigint, lastedMs: number, sizing: BlockSizing): bigint {
  let size = previous;
  if (lastedMs < sizing.growBelowMs) size = previous * 2n;
  else if (lastedMs > sizing.shrinkAboveMs) size = previous / 2n;
  if (size < sizing.min) return sizing.min;
  if (size > sizing.max) return sizing.max;
  return size;
}
