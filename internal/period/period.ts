/**
 * Period series, pure: the settings (`reset`, `timezone`, `format`) checked and parsed, the civil
 * date of an instant in a timezone, the span of instants sharing its year, month or day (DST
 * correct: a day may last 23 or 25 hours, or start at 01:00 where midnight is skipped), the
 * period's name (`2026`, `2026-11`, `2026-11-27`) and the formatted numbers.
 *
 * Everything is computed with `Intl.DateTimeFormat` in the sequence's timezone. A
 * {@link PeriodTracker} keeps the current {@link Stamp} and the span it holds for, so a take costs a
 * clock read and two compares; the dates are computed again only when the clock leaves the span.
 *
 * @module
 */
import {
  invalid,
  type Numbering,
  PERIOD_SEPARATOR,
  type Reset,
  type Stamp,
} from "../domain/domain.ts";

/** The values of `reset`. */
export const RESETS: readonly Reset[] = ["never", "yearly", "monthly", "daily"];

/** The timezone periods are counted in unless another is given. */
export const DEFAULT_TIMEZONE = "UTC";

/** Longest format (characters). */
export const FORMAT_MAX = 64;

/** Most digits `{N:k}` pads to. */
export const PAD_MAX = 20;

/** A date of the (proleptic) Gregorian calendar. */
export interface CivilDate {
  /** The year (astronomical: 0 is 1 BC). */
  year: number;
  /** 1 to 12. */
  month: number;
  /** 1 to 31. */
  day: number;
}

/** How fine a date must be known: 0 not at all, 1 the year, 2 the month, 3 the day. */
export type Unit = 0 | 1 | 2 | 3;

const RESET_UNIT: Readonly<Record<Reset, Unit>> = { never: 0, yearly: 1, monthly: 2, daily: 3 };

/** One piece of a parsed format. */
export type FormatPart =
  | { kind: "literal"; text: string }
  | { kind: "date"; token: "YYYY" | "YY" | "MM" | "DD" }
  | { kind: "number"; width: number };

/** A parsed format: its pieces, and the finest date unit it shows. */
export interface FormatSpec {
  /** The pieces, in order; exactly one is the number. */
  parts: FormatPart[];
  /** The finest date unit a token shows (0 when none does). */
  unit: Unit;
}

const TOKEN_UNIT = { YYYY: 1, YY: 1, MM: 2, DD: 3 } as const;
const FORMAT_RULE = "tokens {YYYY} {YY} {MM} {DD} {N} {N:k} (k from 1 to 20), exactly one " +
  "{N...}, other characters printable ASCII without { or }, at most 64 characters";

/**
 * Parses a format like `INV-{YYYY}-{N:6}`: tokens `{YYYY}` `{YY}` `{MM}` `{DD}` (the date of the
 * take in the sequence's timezone), `{N}` (the number) or `{N:k}` (zero-padded to k digits, 1 to
 * 20), exactly one `{N…}`; literals of printable ASCII without braces; at most 64 characters.
 * @throws {SequencerError} `invalid`, naming the problem.
 */
export function parseFormat(text: string): FormatSpec {
  const bad = (problem: string) =>
    invalid(`format ${JSON.stringify(text.slice(0, 80))} is invalid: ${problem} (${FORMAT_RULE})`);
  if (text.length === 0) throw bad("it is empty");
  if (text.length > FORMAT_MAX) throw bad(`it has ${text.length} characters`);
  const parts: FormatPart[] = [];
  let unit: Unit = 0;
  let numbers = 0;
  let literal = "";
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c === "}") throw bad(`a "}" at position ${i + 1} closes no token`);
    if (c !== "{") {
      const code = c.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) {
        throw bad(`character ${JSON.stringify(c)} at position ${i + 1} is not printable ASCII`);
      }
      literal += c;
      i++;
      continue;
    }
    const end = text.indexOf("}", i);
    if (end < 0) throw bad(`the "{" at position ${i + 1} is never closed`);
    const token = text.slice(i + 1, end);
    if (literal !== "") parts.push({ kind: "literal", text: literal });
    literal = "";
    if (token === "YYYY" || token === "YY" || token === "MM" || token === "DD") {
      parts.push({ kind: "date", token });
      if (TOKEN_UNIT[token] > unit) unit = TOKEN_UNIT[token];
    } else if (token === "N" || /^N:[1-9][0-9]?$/.test(token)) {
      const width = token === "N" ? 0 : Number(token.slice(2));
      if (width > PAD_MAX) throw bad(`{${token}} pads to more than ${PAD_MAX} digits`);
      parts.push({ kind: "number", width });
      numbers++;
    } else {
      throw bad(`{${token.slice(0, 20)}} at position ${i + 1} is not a token`);
    }
    i = end + 1;
  }
  if (literal !== "") parts.push({ kind: "literal", text: literal });
  if (numbers !== 1) {
    throw bad(numbers === 0 ? "it has no {N} or {N:k}" : `it has ${numbers} {N...} tokens`);
  }
  return { parts, unit };
}

/**
 * The canonical name of an IANA timezone (`europe/paris` → `Europe/Paris`, `UTC`), as
 * `Intl.DateTimeFormat` knows it.
 * @throws {SequencerError} `invalid` for anything else (offsets like `+01:00` included).
 */
export function checkTimezone(name: string): string {
  const rule = 'must be an IANA timezone name like "Europe/Paris" or "UTC" ' +
    '(Intl.supportedValuesOf("timeZone") lists them)';
  if (name.length === 0 || name.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) {
    throw invalid(`timezone ${JSON.stringify(name.slice(0, 80))} is invalid: ${rule}`);
  }
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw invalid(`timezone ${JSON.stringify(name)} is unknown: ${rule}`);
  }
}

/**
 * Numbering settings from the fields of a create request (`reset`, `timezone`, `format`, each
 * possibly absent): `undefined` when they ask for nothing (no periods, no format).
 * @throws {SequencerError} `invalid`, naming the field and the rule.
 */
export function checkNumbering(
  fields: { reset?: unknown; timezone?: unknown; format?: unknown },
): Numbering | undefined {
  const { reset = "never", timezone, format } = fields;
  if (typeof reset !== "string" || !(RESETS as readonly string[]).includes(reset)) {
    throw invalid(
      `reset ${JSON.stringify(reset)} is invalid: must be one of ${
        RESETS.map((r) => JSON.stringify(r)).join(", ")
      }`,
    );
  }
  if (timezone !== undefined && typeof timezone !== "string") {
    throw invalid(`timezone ${JSON.stringify(timezone)} is invalid: must be a string`);
  }
  if (format !== undefined && typeof format !== "string") {
    throw invalid(`format ${JSON.stringify(format)} is invalid: must be a string`);
  }
  const spec = format === undefined ? undefined : parseFormat(format);
  const zone = timezone === undefined ? DEFAULT_TIMEZONE : checkTimezone(timezone);
  if (zone !== DEFAULT_TIMEZONE && reset === "never" && (spec?.unit ?? 0) === 0) {
    throw invalid(
      `timezone ${JSON.stringify(timezone)} has no effect: it counts periods ("reset") and the ` +
        `dates of a "format" ({YYYY} {YY} {MM} {DD}), and neither is given`,
    );
  }
  if (reset === "never" && spec === undefined) return undefined;
  return { reset: reset as Reset, timezone: zone, ...(format === undefined ? {} : { format }) };
}

/** Whether two numbering settings are the same (`undefined` is none). */
export function sameNumbering(a: Numbering | undefined, b: Numbering | undefined): boolean {
  return a?.reset === b?.reset && a?.timezone === b?.timezone && a?.format === b?.format;
}

/** The settings as one line for messages: `reset yearly, timezone UTC, format "X-{N}"`. */
export function describeNumbering(numbering: Numbering | undefined): string {
  if (numbering === undefined) return "no reset and no format";
  const format = numbering.format === undefined
    ? "no format"
    : `format ${JSON.stringify(numbering.format)}`;
  return `reset ${numbering.reset}, timezone ${numbering.timezone}, ${format}`;
}

/** The name of a period: `2026` (yearly), `2026-11` (monthly), `2026-11-27` (daily). */
export function periodKey(date: CivilDate, reset: Exclude<Reset, "never">): string {
  const year = pad(date.year, 4);
  if (reset === "yearly") return year;
  const month = `${year}-${pad(date.month, 2)}`;
  return reset === "monthly" ? month : `${month}-${pad(date.day, 2)}`;
}

/** The name of the sub-sequence holding the numbers of `sequence` in `period`: `inv@2026`. */
export function periodName(sequence: string, period: string): string {
  return `${sequence}${PERIOD_SEPARATOR}${period}`;
}

/** A period's name as {@link periodKey} writes it. */
export const PERIOD_KEY = /^[0-9]{4,}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$/;

function pad(value: number, width: number): string {
  const digits = String(Math.abs(value)).padStart(width, "0");
  return value < 0 ? `-${digits}` : digits;
}

const DAY_MS = 86_400_000;

/** Milliseconds since the epoch of a UTC wall time (years 0–99 included, unlike `Date.UTC`). */
function utc(date: CivilDate): number {
  const at = new Date(Date.UTC(2000, date.month - 1, date.day));
  at.setUTCFullYear(date.year);
  return at.getTime();
}

/** The civil dates and offsets of instants in one timezone (one `Intl.DateTimeFormat`). */
export class Zone {
  /** The timezone. */
  readonly timezone: string;
  readonly #format: Intl.DateTimeFormat;

  /** @param timezone a canonical IANA name (see {@link checkTimezone}). */
  constructor(timezone: string) {
    this.timezone = timezone;
    this.#format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      calendar: "gregory",
      numberingSystem: "latn",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      hourCycle: "h23",
    });
  }

  /** The local wall time of `instant`: its civil date and the seconds into that day. */
  #wall(instant: number): { date: CivilDate; seconds: number } {
    const fields: Record<string, number> = {};
    let bc = false;
    for (const part of this.#format.formatToParts(instant)) {
      if (part.type === "era") bc = part.value === "BC";
      else if (part.type !== "literal") fields[part.type] = Number(part.value);
    }
    const year = bc ? 1 - fields.year : fields.year;
    return {
      date: { year, month: fields.month, day: fields.day },
      seconds: fields.hour * 3600 + fields.minute * 60 + fields.second,
    };
  }

  /** The civil date of `instant` (ms since the epoch) in this timezone. */
  date(instant: number): CivilDate {
    return this.#wall(instant).date;
  }

  /** The UTC offset at `instant` (ms, whole seconds; local wall time = UTC + offset). */
  offset(instant: number): number {
    const { date, seconds } = this.#wall(instant);
    const second = instant - (((instant % 1000) + 1000) % 1000);
    return utc(date) + seconds * 1000 - second;
  }

  /**
   * The first instant whose civil date is `date` or later. Where a transition skips midnight
   * (clocks going from 00:00 to 01:00) that is the transition itself.
   */
  startOf(date: CivilDate): number {
    const wall = utc(date);
    const reached = (instant: number) => compare(this.date(instant), date) >= 0;
    // Local midnight is `wall` minus the offset then; the offsets a day on either side cover a
    // transition near it. A candidate is right when it reaches the date and the instant before
    // does not.
    for (const near of [wall - DAY_MS, wall + DAY_MS]) {
      const candidate = wall - this.offset(near);
      if (reached(candidate) && !reached(candidate - 1)) return candidate;
    }
    // Otherwise (a gap at midnight), search between an instant before and one after: offsets
    // are within a day, so two days on either side of the wall time bracket it.
    let lo = wall - 2 * DAY_MS;
    let hi = wall + 2 * DAY_MS;
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (reached(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /**
   * The civil date of `instant` and the span `[from, until)` of instants sharing its year
   * (`unit` 1), month (2) or day (3).
   */
  span(instant: number, unit: Exclude<Unit, 0>): { date: CivilDate; from: number; until: number } {
    const date = this.date(instant);
    const first = {
      year: date.year,
      month: unit >= 2 ? date.month : 1,
      day: unit === 3 ? date.day : 1,
    };
    const next = unit === 1
      ? { year: first.year + 1, month: 1, day: 1 }
      : unit === 2
      ? (first.month === 12
        ? { year: first.year + 1, month: 1, day: 1 }
        : { year: first.year, month: first.month + 1, day: 1 })
      : nextDay(first);
    const from = this.startOf(first);
    const until = this.startOf(next);
    // Local dates only move forward in the timezone database; if one ever did not, the span is
    // cut to what is known to hold, and the next take computes again.
    if (!(from <= instant && instant < until)) return { date, from: instant, until: instant + 1 };
    return { date, from, until };
  }
}

function compare(a: CivilDate, b: CivilDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

function nextDay(date: CivilDate): CivilDate {
  const at = new Date(utc(date) + DAY_MS);
  return { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1, day: at.getUTCDate() };
}

/** The text of a date token. */
function tokenText(token: "YYYY" | "YY" | "MM" | "DD", date: CivilDate): string {
  switch (token) {
    case "YYYY":
      return pad(date.year, 4);
    case "YY":
      return pad(((date.year % 100) + 100) % 100, 2);
    case "MM":
      return pad(date.month, 2);
    case "DD":
      return pad(date.day, 2);
  }
}

/**
 * The number `n` in a format whose dates are `date`: `{N:k}` pads its digits to k with zeros
 * (a negative number keeps its sign in front: `-000042`); digits beyond k are never cut.
 */
export function formatNumber(spec: FormatSpec, date: CivilDate, n: bigint): string {
  return formatterOf(spec, date)(n);
}

/** {@link formatNumber} for one date, with the date's text computed once. */
function formatterOf(spec: FormatSpec, date: CivilDate): (n: bigint) => string {
  let head = "";
  let tail = "";
  let width = 0;
  let seen = false;
  for (const part of spec.parts) {
    if (part.kind === "number") {
      width = part.width;
      seen = true;
      continue;
    }
    const text = part.kind === "literal" ? part.text : tokenText(part.token, date);
    if (seen) tail += text;
    else head += text;
  }
  if (width === 0) return (n) => head + n + tail;
  return (n) => {
    const digits = (n < 0n ? -n : n).toString().padStart(width, "0");
    return n < 0n ? `${head}-${digits}${tail}` : head + digits + tail;
  };
}

/** The stamp of a take on `date`: its period (with periods) and its formatter (with a format). */
export function stampOf(
  numbering: Numbering,
  spec: FormatSpec | undefined,
  date: CivilDate,
): Stamp {
  return {
    period: numbering.reset === "never" ? undefined : periodKey(date, numbering.reset),
    format: spec === undefined ? undefined : formatterOf(spec, date),
  };
}

/**
 * The current {@link Stamp} of one sequence, cached with the span of instants it holds for: a
 * take reads the clock and compares it with the span; the dates are computed (with `Intl`, in the
 * sequence's timezone) only when the clock has left it, forwards or backwards.
 */
export class PeriodTracker {
  /** The settings. */
  readonly numbering: Numbering;
  /** Whether the sequence has periods (its numbers come from one sub-sequence per period). */
  readonly periodic: boolean;
  readonly #spec: FormatSpec | undefined;
  readonly #unit: Unit;
  #zone: Zone | undefined;
  #from = Infinity;
  #until = -Infinity;
  #stamp: Stamp = { period: undefined, format: undefined };

  /** @param numbering valid settings (see {@link checkNumbering}). */
  constructor(numbering: Numbering) {
    this.numbering = numbering;
    this.periodic = numbering.reset !== "never";
    this.#spec = numbering.format === undefined ? undefined : parseFormat(numbering.format);
    const unit = RESET_UNIT[numbering.reset];
    this.#unit = Math.max(unit, this.#spec?.unit ?? 0) as Unit;
  }

  /** The stamp of a take at `now` (ms since the epoch). */
  at(now: number): Stamp {
    if (now >= this.#until || now < this.#from) this.#refresh(now);
    return this.#stamp;
  }

  /** When the current stamp's span ends (ms since the epoch), for tests and metrics. */
  get until(): number {
    return this.#until;
  }

  #refresh(now: number): void {
    if (this.#unit === 0) {
      this.#stamp = stampOf(this.numbering, this.#spec, { year: 0, month: 1, day: 1 });
      this.#from = -Infinity;
      this.#until = Infinity;
      return;
    }
    this.#zone ??= new Zone(this.numbering.timezone);
    const { date, from, until } = this.#zone.span(now, this.#unit);
    this.#stamp = stampOf(this.numbering, this.#spec, date);
    this.#from = from;
    this.#until = until;
  }
}
