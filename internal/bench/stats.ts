/**
 * Small numeric helpers of the benchmark: medians and the number formats of the report.
 *
 * @module
 */

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Summed req/s of wrk runs that loaded at the same time. */
export function totalRps(measurements: readonly { rps: number }[]): number {
  return measurements.reduce((sum, m) => sum + m.rps, 0);
}

/** Microseconds as milliseconds with two decimals. */
export const ms = (us: number): string => (us / 1000).toFixed(2);

/** A whole number with thousands separators. */
export const k = (n: number): string => Math.round(n).toLocaleString("en-US");

/** A ratio with three decimals. */
export const ratio = (x: number): string => x.toFixed(3);

/** Microseconds with one decimal. */
export const us = (x: number): string => x.toFixed(1);
