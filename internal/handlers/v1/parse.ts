/**
 * Pure parsing of the v1 API's inputs: sequence names and the create body. Each function returns
 * the value or throws an `invalid` error whose message names the input and the rule.
 *
 * @module
 */
import {
  INT64_MAX,
  invalid,
  SEQUENCE_NAME,
  SEQUENCE_NAME_RULE,
  START_MIN,
} from "../../domain/domain.ts";

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

/**
 * The body of `PUT /v1/sequences/{name}`: empty, or a JSON object with an optional `start`
 * (a JSON integer, or a string of digits for clients that cannot write 64-bit numbers). Numbers
 * are read from their source text, so none is rounded through a float.
 */
export function parseCreateBody(text: string): bigint {
  if (text.trim() === "") return 1n;
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
    throw invalid(`request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid(`request body must be a JSON object like {"start": 1}`);
  }
  const unknown = Object.keys(body).filter((key) => key !== "start");
  if (unknown.length > 0) {
    throw invalid(
      `request body field ${JSON.stringify(unknown[0])} is unknown: only "start" is allowed`,
    );
  }
  if (!("start" in body)) return 1n;
  const start = (body as { start: unknown }).start;
  if (typeof start === "number" && startSource !== undefined) {
    return parseInt64(startSource, "start", START_MIN);
  }
  if (typeof start === "string") return parseInt64(start, "start", START_MIN);
  throw invalid(
    `start ${
      JSON.stringify(start)
    } is invalid: must be an integer from ${START_MIN} to ${INT64_MAX}`,
  );
}
