/**
 * Query parameters, read by one rule everywhere: a parameter is given at most once, integers are
 * canonical decimal (`0` or digits without a leading zero, no sign or blank) within bounds, and
 * choices are one of a list. A broken rule throws an `invalid` error naming the parameter and the
 * rule, which the router answers as a `400`.
 *
 * @module
 */
import { invalid } from "../domain/domain.ts";

/** Bounds and default of an integer parameter. */
export interface IntegerRule {
  /** Parameter name, e.g. `count`. */
  name: string;
  /** Smallest accepted value (inclusive). */
  min: number;
  /** Largest accepted value (inclusive). */
  max: number;
  /** Value when the parameter is absent; absent is `undefined` without it. */
  defaultValue?: number;
}

const CANONICAL = /^(0|[1-9][0-9]{0,15})$/;

/** The single value of `name`, `undefined` when absent; throws when it is repeated. */
export function singleParam(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) {
    throw invalid(`query parameter ${name} is repeated: give it at most once`);
  }
  return values[0];
}

/** An integer parameter by `rule`; see the module documentation. */
export function integerParam(
  params: URLSearchParams,
  rule: IntegerRule & { defaultValue: number },
): number;
export function integerParam(params: URLSearchParams, rule: IntegerRule): number | undefined;
export function integerParam(params: URLSearchParams, rule: IntegerRule): number | undefined {
  const raw = singleParam(params, rule.name);
  if (raw === undefined) return rule.defaultValue;
  const value = CANONICAL.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= rule.min && value <= rule.max)) {
    const fallback = rule.defaultValue === undefined ? "" : ` (default ${rule.defaultValue})`;
    throw invalid(
      `query parameter ${rule.name}=${JSON.stringify(raw.slice(0, 40))} is invalid: must be ` +
        `one integer from ${rule.min} to ${rule.max}${fallback}, without sign or leading zeros`,
    );
  }
  return value;
}

/** A parameter that is one of `allowed`; absent gives `allowed[0]`. */
export function choiceParam<T extends string>(
  params: URLSearchParams,
  name: string,
  allowed: readonly [T, ...T[]],
): T {
  const raw = singleParam(params, name);
  if (raw === undefined) return allowed[0];
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw invalid(
    `query parameter ${name}=${JSON.stringify(raw.slice(0, 40))} is invalid: must be one of ${
      allowed.map((a) => JSON.stringify(a)).join(", ")
    } (default ${JSON.stringify(allowed[0])})`,
  );
}
