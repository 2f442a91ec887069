/**
 * Pure parsing of the v1 API's inputs: query parameters, sequence names and the create body.
 * Each function returns a value or an error message that names the input and the rule.
 *
 * @module
 */
import { INT64_MAX, SEQUENCE_NAME, START_MIN } from "../../store/store.ts";

/** A parsed value, or the message of a 400. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

const CANONICAL_POSITIVE = /^[1-9][0-9]*$/;

/**
 * The `count` query parameter: absent → `undefined` (one number, the seed's body shape);
 * otherwise exactly one decimal integer from 1 to `max`.
 */
export function parseCount(params: URLSearchParams, max: number): Parsed<bigint | undefined> {
  const values = params.getAll("count");
  if (values.length === 0) return ok(undefined);
  const rule = `must be one integer from 1 to ${max}`;
  if (values.length > 1) return fail(`query parameter count is repeated: ${rule}`);
  const raw = values[0];
  if (raw.length > 20 || !CANONICAL_POSITIVE.test(raw)) {
    return fail(`query parameter count=${JSON.stringify(raw)} is invalid: ${rule}`);
  }
  const count = BigInt(raw);
  if (count > BigInt(max)) {
    return fail(`query parameter count=${raw} is too large: ${rule}`);
  }
  return ok(count);
}

/** How numbers are written: as JSON numbers (default) or as JSON strings. */
export type NumberFormat = "number" | "string";

/** The `numbers` query parameter: `number` (default) or `string`. */
export function parseNumberFormat(params: URLSearchParams): Parsed<NumberFormat> {
  const values = params.getAll("numbers");
  if (values.length === 0) return ok("number");
  if (values.length === 1 && (values[0] === "number" || values[0] === "string")) {
    return ok(values[0]);
  }
  return fail(
    `query parameter numbers=${JSON.stringify(values.join(","))} is invalid: ` +
      `must be "number" or "string", once`,
  );
}

/** A sequence name from the path. */
export function parseName(raw: string): Parsed<string> {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return fail(`sequence name ${JSON.stringify(raw)} is not valid percent-encoding`);
  }
  if (!SEQUENCE_NAME.test(name)) {
    return fail(
      `sequence name ${JSON.stringify(name)} is invalid: must be 1 to 64 characters of ` +
        `A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return ok(name);
}

const START_RULE = `must be an integer from ${START_MIN} to ${INT64_MAX}`;

/** An exact integer from a JSON number's source text or a string of digits. */
export function parseInt64(text: string, what: string, min: bigint): Parsed<bigint> {
  if (!/^-?(0|[1-9][0-9]*)$/.test(text) || text.length > 21) {
    return fail(`${what} ${text} is invalid: must be an integer from ${min} to ${INT64_MAX}`);
  }
  const value = BigInt(text);
  if (value < min || value > INT64_MAX) {
    return fail(`${what} ${text} is out of range: must be an integer from ${min} to ${INT64_MAX}`);
  }
  return ok(value);
}

/**
 * The body of `PUT /v1/sequences/{name}`: empty, or a JSON object with an optional `start`
 * (a JSON integer, or a string of digits for clients that cannot write 64-bit numbers). Numbers
 * are read from their source text, so none is rounded through a float.
 */
export function parseCreateBody(text: string): Parsed<bigint> {
  if (text.trim() === "") return ok(1n);
  let body: unknown;
  let startSource: string | undefined;
  try {
    body = JSON.parse(
      text,
      function (this: unknown, key: string, value: unknown, context?: { source?: string }) {
        if (key === "start" && typeof value === "number" && context?.source !== undefined) {
          startSource = context.source;
        }
        return value;
      } as (key: string, value: unknown) => unknown,
    );
  } catch (error) {
    return fail(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return fail(`request body must be a JSON object like {"start": 1}`);
  }
  const keys = Object.keys(body);
  const unknown = keys.filter((key) => key !== "start");
  if (unknown.length > 0) {
    return fail(
      `request body field ${JSON.stringify(unknown[0])} is unknown: only "start" is allowed`,
    );
  }
  if (!("start" in body)) return ok(1n);
  const start = (body as { start: unknown }).start;
  if (typeof start === "number" && startSource !== undefined) {
    return parseInt64(startSource, "start", START_MIN);
  }
  if (typeof start === "string") return parseInt64(start, "start", START_MIN);
  return fail(`start ${JSON.stringify(start)} is invalid: ${START_RULE}`);
}
