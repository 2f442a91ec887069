/**
 * Reading the server's success answers into typed values. Every 64-bit field becomes a `bigint`,
 * whether the server wrote it as a JSON string (`?numbers=string`) or as a JSON number of any
 * size. An answer of an unexpected shape is a {@link SequencerClientError} `bad_response`.
 *
 * @module
 */
import { SequencerClientError } from "./error.ts";
import { isJsonObject, type JsonValue, parseJson } from "./json.ts";

/** Consecutive numbers `first..last` (inclusive) reserved by one call. */
export interface Batch {
  /** The first number. */
  first: bigint;
  /** The last number (inclusive). */
  last: bigint;
  /** How many: `last - first + 1`. */
  count: number;
  /** The period the numbers belong to (a sequence with `reset`), e.g. `2026`. */
  period?: string;
  /** The first number formatted (a sequence with `format`), e.g. `INV-2026-000001`. */
  formatted?: string;
  /** The last number formatted. */
  lastFormatted?: string;
}

/** One number taken, with its period and formatted text where the sequence has them. */
export interface Taken {
  /** The number. */
  number: bigint;
  /** The period it belongs to (a sequence with `reset`), e.g. `2026`. */
  period?: string;
  /** The number formatted (a sequence with `format`), e.g. `INV-2026-000001`. */
  formatted?: string;
}

/** How a sequence numbers: by period, in a timezone, with a format (see the server's README). */
export interface Numbering {
  /** When numbering starts again at `start`: `never` (default), `yearly`, `monthly`, `daily`. */
  reset?: "never" | "yearly" | "monthly" | "daily";
  /** The IANA timezone deciding periods (default `UTC`). */
  timezone?: string;
  /** How numbers are written, e.g. `INV-{YYYY}-{N:6}`. */
  format?: string;
}

/** One sequence as the server describes it, with its numbering settings when it has any. */
export interface SequenceInfo extends Numbering {
  /** The name. */
  name: string;
  /** The first number the sequence ever hands out. */
  start: bigint;
  /** Every number handed out so far is at most this; `start - 1` before the first. */
  committed: bigint;
  /** No number below the floor is ever handed out (`raiseFloor`); absent from older servers. */
  floor?: bigint;
  /** Whether the sequence is retired (`retire`); absent from older servers. */
  retired?: boolean;
}

/** What `create` did. */
export interface CreateResult {
  /** True when this call created the sequence (201); false when it existed with this start (200). */
  created: boolean;
  /** The sequence. */
  sequence: SequenceInfo;
}

/** One page of `list`. */
export interface SequencePage {
  /** The sequences of this page, by name. */
  sequences: SequenceInfo[];
  /** The `after` of the next page; `null` on the last page. */
  next: string | null;
}

/** What `raiseFloor` did. */
export interface FloorResult {
  /** The sequence after the call. */
  sequence: SequenceInfo;
  /** Whether the floor moved (false when it was already at least as high). */
  changed: boolean;
  /** The lowest number no process has reserved yet; `null` when none is left below 2^63. */
  next: bigint | null;
}

/** What `retire` did. */
export interface RetireResult {
  /** The sequence after the call. */
  sequence: SequenceInfo;
  /** Whether this call retired it (false when it already was). */
  changed: boolean;
}

function bad(what: string, text: string): SequencerClientError {
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return new SequencerClientError(
    "bad_response",
    `unexpected answer: ${what}: ${JSON.stringify(excerpt)}`,
  );
}

/** The `ok` object of an answer, or a `bad_response`. */
function okBody(text: string): { [key: string]: JsonValue } {
  let body: JsonValue;
  try {
    body = parseJson(text);
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message})`, text);
  }
  if (!isJsonObject(body) || body.status !== "ok") throw bad(`no "status":"ok"`, text);
  return body;
}

/** An exact integer written as a JSON integer or as a string of digits. */
function integer(value: JsonValue | undefined, what: string, text: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "string" && /^-?(0|[1-9][0-9]*)$/.test(value)) return BigInt(value);
  throw bad(`${what} is not an integer`, text);
}

function sequenceOf(value: JsonValue | undefined, text: string): { [key: string]: JsonValue } {
  if (!isJsonObject(value)) throw bad(`no "sequence" object`, text);
  return value;
}

/** The number of `{"status":"ok","sequence":{"number":N}}`. */
export function parseNumberAnswer(text: string): bigint {
  return integer(sequenceOf(okBody(text).sequence, text).number, "sequence.number", text);
}

/**
 * The batch of `{"status":"ok","sequence":{"number":FIRST,"count":N,"last":LAST}}`, checked to
 * hold exactly `count` numbers.
 */
export function parseBatchAnswer(text: string, count: number): Batch {
  const sequence = sequenceOf(okBody(text).sequence, text);
  const first = integer(sequence.number, "sequence.number", text);
  const last = integer(sequence.last, "sequence.last", text);
  const counted = integer(sequence.count, "sequence.count", text);
  if (counted !== BigInt(count) || last - first + 1n !== counted) {
    throw bad(`asked for ${count} numbers`, text);
  }
  return { first, last, count, ...stamps(sequence, text) };
}

/** `period`, `formatted` and `lastFormatted` of a `sequence` object, where present. */
function stamps(
  sequence: { [key: string]: JsonValue },
  text: string,
): Pick<Batch, "period" | "formatted" | "lastFormatted"> {
  const found: Pick<Batch, "period" | "formatted" | "lastFormatted"> = {};
  for (const key of ["period", "formatted", "lastFormatted"] as const) {
    const value = sequence[key];
    if (value === undefined) continue;
    if (typeof value !== "string") throw bad(`sequence.${key} is not a string`, text);
    found[key] = value;
  }
  return found;
}

/** The number of `{"status":"ok","sequence":{"number":N}}`, with `period` and `formatted`. */
export function parseTakeAnswer(text: string): Taken {
  const sequence = sequenceOf(okBody(text).sequence, text);
  const { period, formatted } = stamps(sequence, text);
  return {
    number: integer(sequence.number, "sequence.number", text),
    ...(period === undefined ? {} : { period }),
    ...(formatted === undefined ? {} : { formatted }),
  };
}

/** A sequence object of an answer. */
function sequenceInfo(value: JsonValue | undefined, text: string): SequenceInfo {
  const sequence = sequenceOf(value, text);
  if (typeof sequence.name !== "string") throw bad("sequence.name is not a string", text);
  const info: SequenceInfo = {
    name: sequence.name,
    start: integer(sequence.start, "sequence.start", text),
    committed: integer(sequence.committed, "sequence.committed", text),
  };
  if (sequence.floor !== undefined && sequence.floor !== null) {
    info.floor = integer(sequence.floor, "sequence.floor", text);
  }
  if (typeof sequence.retired === "boolean") info.retired = sequence.retired;
  if (typeof sequence.reset === "string") info.reset = sequence.reset as Numbering["reset"];
  if (typeof sequence.timezone === "string") info.timezone = sequence.timezone;
  if (typeof sequence.format === "string") info.format = sequence.format;
  return info;
}

/** The sequence of `{"status":"ok","sequence":{"name","start","committed"}}`. */
export function parseSequenceAnswer(text: string): SequenceInfo {
  return sequenceInfo(okBody(text).sequence, text);
}

/** The page of `{"status":"ok","sequences":[…],"next":…}` (`next` absent: the last page). */
export function parsePageAnswer(text: string): SequencePage {
  const body = okBody(text);
  if (!Array.isArray(body.sequences)) throw bad(`no "sequences" array`, text);
  const next = body.next ?? null;
  if (next !== null && typeof next !== "string") throw bad(`"next" is not a string`, text);
  return { sequences: body.sequences.map((s) => sequenceInfo(s, text)), next };
}

/** The answer of `PATCH /v1/sequences/{name}`. */
export function parseFloorAnswer(text: string): FloorResult {
  const body = okBody(text);
  if (typeof body.changed !== "boolean") throw bad(`"changed" is not a boolean`, text);
  return {
    sequence: sequenceInfo(body.sequence, text),
    changed: body.changed,
    next: body.next === null ? null : integer(body.next, "next", text),
  };
}

/** The answer of `DELETE /v1/sequences/{name}`. */
export function parseRetireAnswer(text: string): RetireResult {
  const body = okBody(text);
  if (typeof body.changed !== "boolean") throw bad(`"changed" is not a boolean`, text);
  return { sequence: sequenceInfo(body.sequence, text), changed: body.changed };
}
