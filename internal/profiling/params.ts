/**
 * Query-parameter parsing for the profiling endpoints. Pure functions: every rejection carries a
 * message that names the parameter and the rule, ready for a `400` answer.
 *
 * @module
 */

/** The outcome of parsing one query parameter: a value, or the reason it was rejected. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** Bounds and default of a whole-seconds parameter. */
export interface SecondsRule {
  /** Parameter name, e.g. `seconds`. */
  name: string;
  /** Value used when the parameter is absent. */
  defaultValue: number;
  /** Smallest accepted value (inclusive). */
  min: number;
  /** Largest accepted value (inclusive). */
  max: number;
}

const DIGITS = /^[0-9]+$/;

/** Returns the single value of `name`, `undefined` when absent, or a rejection when repeated. */
function single(params: URLSearchParams, name: string): ParseResult<string | undefined> {
  const values = params.getAll(name);
  if (values.length > 1) {
    return {
      ok: false,
      message: `query parameter "${name}" must be given at most once, got ${values.length} values`,
    };
  }
  return { ok: true, value: values[0] };
}

/**
 * Parses a duration in whole seconds. Accepted: absent (the default), or a decimal integer made
 * only of the digits 0–9 (no sign, blank, fraction or exponent) within `[min, max]`. Rejected:
 * repeated, empty, anything else, or out of bounds.
 */
export function parseSeconds(params: URLSearchParams, rule: SecondsRule): ParseResult<number> {
  const got = single(params, rule.name);
  if (!got.ok) return got;
  const raw = got.value;
  if (raw === undefined) return { ok: true, value: rule.defaultValue };
  const value = DIGITS.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
    return {
      ok: false,
      message:
        `query parameter "${rule.name}" must be a whole number of seconds from ${rule.min} ` +
        `to ${rule.max} (default ${rule.defaultValue}), got ${JSON.stringify(raw)}`,
    };
  }
  return { ok: true, value };
}

/**
 * Parses an enumerated parameter: absent gives `allowed[0]`; a repeated parameter or a value
 * outside `allowed` is rejected.
 */
export function parseChoice<T extends string>(
  params: URLSearchParams,
  name: string,
  allowed: readonly [T, ...T[]],
): ParseResult<T> {
  const got = single(params, name);
  if (!got.ok) return got;
  const raw = got.value;
  if (raw === undefined) return { ok: true, value: allowed[0] };
  if ((allowed as readonly string[]).includes(raw)) return { ok: true, value: raw as T };
  return {
    ok: false,
    message: `query parameter "${name}" must be one of ${
      allowed.map((a) => JSON.stringify(a)).join(", ")
    } (default ${JSON.stringify(allowed[0])}), got ${JSON.stringify(raw)}`,
  };
}
