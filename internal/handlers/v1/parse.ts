/**
 * Pure parsing of the v1 API's inputs: sequence names and the create body. Each function returns
 * the value or throws an `invalid` error whose message names the input and the rule.
 *
 * @module
 */
import {
  INT64_MAX,
  invalid,
  type Numbering,
  SEQUENCE_NAME,
  SEQUENCE_NAME_RULE,
  START_MIN,
} from "../../domain/domain.ts";
import { checkNumbering } from "../../period/period.ts";

/** A sequence name from the path (percent-encoded as it came). */
export function parseName(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw invalid(`sequence name ${JSON.stringify(raw)} is not valid percent-encoding`);
  }
  if (!SEQUENCE_NAME.test(name)) {
    throw invalid(
      `sequence name ${JSON.stringify(name.slice(0, 80))} is invalid: ${SEQUENCE_NAME_RULE}`,
    );
  }
  return name;
}

/** An exact integer from a JSON number's source text or a string of digits. */
export function parseInt64(text: string, what: string, min: bigint): bigint {
  const rule = `must be an integer from ${min} to ${INT64_MAX}`;
  if (!/^-?(0|[1-9][0-9]*)$/.test(text) || text.length > 21) {
    throw invalid(`${what} ${text.slice(0, 40)} is invalid: ${rule}`);
  }
  const value = BigInt(text);
  if (value < min || value > INT64_MAX) throw invalid(`${what} ${text} is out of range: ${rule}`);
  return value;
}

/** A JSON number of a body, as its source text. */
class NumberText {
  constructor(readonly source: string) {}
}

/**
 * A JSON object body with only the fields in `allowed`; integer fields are read from their source
 * text, so none is rounded through a float. Returns the raw source of each integer field given.
 */
function parseObject(text: string, allowed: readonly string[]): Map<string, unknown> {
  const sources = new Map<string, string>();
  let body: unknown;
  try {
    body = JSON.parse(
      text,
      function (this: unknown, key: string, value: unknown, context?: { source?: string }) {
        if (typeof value === "number" && context?.source !== undefined) {
          sources.set(key, context.source);
        }
        return value;
      } as (key: string, value: unknown) => unknown,
    );
  } catch (error) {
    throw invalid(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid(`request body must be a JSON object like {"${allowed[0]}": 1}`);
  }
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(body)) {
    if (!allowed.includes(key)) {
      throw invalid(
        `request body field ${JSON.stringify(key.slice(0, 40))} is unknown: only ${
          allowed.map((a) => JSON.stringify(a)).join(", ")
        } allowed`,
      );
    }
    fields.set(key, typeof value === "number" ? new NumberText(sources.get(key) ?? "") : value);
  }
  return fields;
}

/** An int64 field of a body: a JSON integer (read exactly) or a string of digits. */
function int64Field(value: unknown, what: string, min: bigint): bigint {
  if (value instanceof NumberText) return parseInt64(value.source, what, min);
  if (typeof value === "string") return parseInt64(value, what, min);
  throw invalid(
    `${what} ${JSON.stringify(value)} is invalid: must be an integer from ${min} to ${INT64_MAX}`,
  );
}

/**
 * The body of `PATCH /v1/sequences/{name}`: `{"floor": N}`, N a 64-bit integer (a JSON number or
 * a string of digits).
 */
export function parseFloorBody(text: string): bigint {
  if (text.trim() === "") throw invalid(`request body must be a JSON object like {"floor": 1000}`);
  const fields = parseObject(text, ["floor"]);
  if (!fields.has("floor")) throw invalid(`request body must have "floor", like {"floor": 1000}`);
  return int64Field(fields.get("floor"), "floor", START_MIN);
}

/** What `PUT /v1/sequences/{name}` asks for. */
export interface CreateRequest {
  /** The first number (of every period, with periods). */
  start: bigint;
  /** The numbering settings; `undefined` when none is asked for. */
  numbering: Numbering | undefined;
}

/**
 * The body of `PUT /v1/sequences/{name}`: empty, or a JSON object with an optional `start`
 * (a JSON integer, or a string of digits for clients that cannot write 64-bit numbers) and the
 * optional numbering settings `reset`, `timezone` and `format` (see `period/period.ts`). Numbers
 * are read from their source text, so none is rounded through a float.
 */
export function parseCreateBody(text: string): CreateRequest {
  if (text.trim() === "") return { start: 1n, numbering: undefined };
  const fields = parseObject(text, ["start", "reset", "timezone", "format"]);
  const start = fields.has("start") ? int64Field(fields.get("start"), "start", START_MIN) : 1n;
  // A JSON number where a string belongs is named as written.
  const field = (key: string) => {
    const value = fields.get(key);
    return value instanceof NumberText ? Number(value.source) : value;
  };
  const numbering = checkNumbering({
    reset: field("reset"),
    timezone: field("timezone"),
    format: field("format"),
  });
  return { start, numbering };
}
