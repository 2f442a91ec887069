/**
 * The domain of the service, in one place: sequence names, 64-bit limits, the coded errors and the
 * one interface between HTTP and the sequences. Imports nothing of the project, so every layer can
 * depend on it and nothing here depends on a layer.
 *
 * @module
 */

/** Largest signed 64-bit integer: no sequence goes past it. */
export const INT64_MAX = 9223372036854775807n;
/** Smallest signed 64-bit integer. */
export const INT64_MIN = -9223372036854775808n;
/**
 * Smallest start a sequence may have: {@link INT64_MIN} + 1, because a new sequence's bound is
 * `start - 1`, which must itself be a signed 64-bit integer.
 */
export const START_MIN = INT64_MIN + 1n;

/** The sequence served by `GET /v1/sequence`; it always exists, starting at 1. */
export const DEFAULT_SEQUENCE = "default";

/** Valid sequence names: 1–64 characters of `[A-Za-z0-9._-]`, starting with a letter or digit. */
export const SEQUENCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The rule {@link SEQUENCE_NAME} enforces, for error messages. */
export const SEQUENCE_NAME_RULE =
  "must be 1 to 64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit";

/** Distinct sequences one process serves by default (slots of the shared table; `SEQUENCES_MAX`). */
export const SEQUENCE_CAPACITY = 4096;

/** What went wrong, as a stable code that clients may branch on. */
export type ErrorCode =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "no_route"
  | "method_not_allowed"
  | "conflict"
  | "exhausted"
  | "retired"
  | "in_flight"
  | "idempotency_mismatch"
  | "too_large"
  | "rate_limited"
  | "request_timeout"
  | "too_many"
  | "unavailable"
  | "client_closed"
  | "internal";

/** The HTTP status of each {@link ErrorCode}: the one table handlers answer from. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  no_route: 404,
  method_not_allowed: 405,
  conflict: 409,
  exhausted: 409,
  retired: 410,
  in_flight: 409,
  idempotency_mismatch: 422,
  too_large: 413,
  rate_limited: 429,
  request_timeout: 408,
  too_many: 503,
  unavailable: 503,
  client_closed: 499,
  internal: 500,
};

/** Extra facts of an error, sent in its JSON answer (values are strings or exact integers). */
export type ErrorDetails = Record<string, string | number | bigint>;

/**
 * Every expected failure of the service: a {@link ErrorCode}, a message naming the input and the
 * rule, and optional details. It crosses threads as plain data ({@link SequencerError.toData}).
 */
export class SequencerError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** Extra facts (the sequence, how many numbers remain, …). */
  readonly details: ErrorDetails | undefined;

  /** @param code the code. @param message one line naming the input and the rule. */
  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SequencerError";
    this.code = code;
    this.details = options.details;
  }

  /** The error as structured-clone data. */
  toData(): ErrorData {
    return { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error from {@link toData}'s output. */
  static fromData(data: ErrorData): SequencerError {
    return new SequencerError(data.code, data.message, { details: data.details });
  }
}

/** A {@link SequencerError} as it crosses a thread boundary. */
export interface ErrorData {
  /** The code. */
  code: ErrorCode;
  /** The message. */
  message: string;
  /** The details, if any. */
  details: ErrorDetails | undefined;
}

/** The request broke a rule; `message` names the input and the rule. */
export function invalid(message: string): SequencerError {
  return new SequencerError("invalid", message);
}

/** The sequence does not exist. */
export function notFound(name: string): SequencerError {
  return new SequencerError("not_found", `sequence ${JSON.stringify(name)} does not exist`, {
    details: { sequence: name },
  });
}

/**
 * Fewer than `count` numbers remain below {@link INT64_MAX}. With `remaining` > 0 the request may
 * still be served in smaller parts; the message says how many.
 */
export function exhausted(name: string, remaining: bigint, count: bigint): SequencerError {
  const message = remaining === 0n
    ? `sequence ${JSON.stringify(name)} is exhausted: it has reached ${INT64_MAX}, ` +
      `the largest signed 64-bit integer`
    : `sequence ${JSON.stringify(name)} has only ${remaining} number${
      remaining === 1n ? "" : "s"
    } left below ${INT64_MAX}: count=${count} cannot be served whole (batches are all or ` +
      `nothing); ask for at most ${remaining}`;
  return new SequencerError("exhausted", message, { details: { sequence: name, remaining } });
}

/** The sequence was retired: it never hands out a number again. */
export function retired(name: string): SequencerError {
  return new SequencerError(
    "retired",
    `sequence ${JSON.stringify(name)} is retired: it hands out no more numbers`,
    { details: { sequence: name } },
  );
}

/** The store cannot commit or answer: fail closed, never a number. */
export function unavailable(message: string, cause?: unknown): SequencerError {
  return new SequencerError("unavailable", message, { cause });
}

/** What a store knows of one sequence. */
export interface SequenceRecord {
  /** Name, see {@link SEQUENCE_NAME}. */
  name: string;
  /** First number of the sequence. */
  start: bigint;
  /** Committed bound: every number handed out is `<= upper`; `start - 1` before the first block. */
  upper: bigint;
  /** Raise-only: no number below it is ever handed out (`start` until raised). */
  floor: bigint;
  /** Retired: it hands out no number, ever again. */
  retired: boolean;
  /** The store-wide change version of its last floor raise, retirement or revival (0 if none). */
  version: bigint;
  /**
   * When its numbers start again each period (see {@link Numbering}); absent, like `timezone`
   * and `format`, for a sequence without numbering settings.
   */
  reset?: Reset;
  /** The IANA timezone its periods and dates are counted in. */
  timezone?: string;
  /** How its numbers are formatted (e.g. `INV-{YYYY}-{N:6}`); absent without a format. */
  format?: string;
}

/** When a sequence's numbers start again at its start: never, or each year, month or day. */
export type Reset = "never" | "yearly" | "monthly" | "daily";

/**
 * A sequence's numbering settings, given at creation: periods (`reset`, counted in `timezone`)
 * and the `format` of its numbers. A sequence without periods and without a format has none.
 */
export interface Numbering {
  /** When numbers start again (`never` for a format without periods). */
  reset: Reset;
  /** The IANA timezone periods and dates are counted in (canonical, e.g. `Europe/Paris`). */
  timezone: string;
  /** The format of its numbers, e.g. `INV-{YYYY}-{N:6}`; absent without one. */
  format?: string;
}

/** Separates a sequence's name from its period in the name of a period's sub-sequence. */
export const PERIOD_SEPARATOR = "@";

/** The numbering settings of `record`, or `undefined` for a sequence without any. */
export function numberingOf(record: SequenceRecord): Numbering | undefined {
  if (record.reset === undefined) return undefined;
  return {
    reset: record.reset,
    timezone: record.timezone ?? "UTC",
    ...(record.format === undefined ? {} : { format: record.format }),
  };
}

/**
 * What a take of a sequence with numbering settings carries besides its numbers: the period it
 * was taken in, and how its numbers are formatted.
 */
export interface Stamp {
  /** The period, e.g. `2026`, `2026-11`, `2026-11-27`; `undefined` without periods. */
  readonly period: string | undefined;
  /** Formats one number of the take; `undefined` without a format. */
  readonly format: ((n: bigint) => string) | undefined;
}

/** The first number of a take of a sequence with numbering settings, with its {@link Stamp}. */
export interface Stamped {
  /** The first number. */
  first: bigint;
  /** Its period and format. */
  stamp: Stamp;
}

/** What {@link Sequences.next} hands out: a bare first number, or one with its stamp. */
export type Taken = bigint | Stamped;

/** Outcome of {@link SequenceAdmin.raiseFloor} and {@link SequenceAdmin.retire}. */
export interface ChangeResult {
  /** The sequence as stored afterwards. */
  record: SequenceRecord;
  /** False when nothing needed to change (a floor at or below the current one, or retired already). */
  changed: boolean;
}

/** One page of a listing: at most `limit` sequences whose names sort after `after` (bytewise). */
export interface ListPage {
  /** Most sequences on the page. */
  limit: number;
  /** The last name of the previous page; absent for the first page. */
  after?: string;
  /** Leave out the sub-sequences of periods (`name@period`), as the API's listing does. */
  hidePeriods?: boolean;
}

/** A block of consecutive numbers `first..last` (inclusive) that is durably reserved. */
export interface Block {
  /** First number of the block. */
  first: bigint;
  /** Last number of the block (inclusive). */
  last: bigint;
}

/** Outcome of {@link SequenceAdmin.create}. */
export interface CreateResult {
  /** True when this call created the sequence; false when it already existed. */
  created: boolean;
  /** The sequence as stored (for an existing one, its original start). */
  record: SequenceRecord;
}

/**
 * The operations on sequences that reach the store. Stores implement them; the owner passes them
 * through (adjusting its shared table from the records they return) and worker threads forward
 * them generically, so a new operation is added here, in the stores, in a handler and in the
 * OpenAPI document.
 */
export interface SequenceAdmin {
  /**
   * Creates `name` starting at `start` (bound `start - 1`), with `numbering` if given, unless it
   * exists; never changes an existing sequence, except that a retired one is revived (with the
   * numbering given) when `start` lies above its committed bound. Safe when several processes
   * create the same name at once.
   */
  create(name: string, start: bigint, numbering?: Numbering): Promise<CreateResult>;
  /** One sequence as stored, without consuming a number; `undefined` when unknown. */
  get(name: string): Promise<SequenceRecord | undefined>;
  /** One page of sequences, ordered by name (bytewise); never reads them all at once. */
  list(page: ListPage): Promise<SequenceRecord[]>;
  /**
   * Raise-only: afterwards no number below `floor` is handed out; the committed bound becomes at
   * least `floor - 1`. Never lowers anything.
   */
  raiseFloor(name: string, floor: bigint): Promise<ChangeResult>;
  /** Retires `name`: it hands out nothing, ever again, and stays listed as retired. */
  retire(name: string): Promise<ChangeResult>;
}

/** The names of the {@link SequenceAdmin} operations, for the generic forwarding. */
export const ADMIN_OPERATIONS = [
  "create",
  "get",
  "list",
  "raiseFloor",
  "retire",
] as const satisfies readonly (keyof SequenceAdmin)[];

/** The answer of a request made with an `Idempotency-Key`, as stored for its retries. */
export interface KeyedAnswer {
  /** The key (scoped by the caller), at most 512 characters. */
  key: string;
  /** What identifies the request (method, path, parameters, body), at most 4096 characters. */
  fingerprint: string;
  /** The answer's HTTP status. */
  status: number;
  /** The answer's body (JSON text). */
  body: string;
}

/** What starting a keyed request found: a new key, or the answer its first request got. */
export type KeyedStart = { state: "new" } | { state: "answered"; answer: KeyedAnswer };

/**
 * Answers of requests made with an `Idempotency-Key`: a retry gets exactly the first answer.
 */
export interface KeyedAnswers {
  /**
   * Starts answering `key` for the request `fingerprint` (method, path, parameters, body).
   * Rejects `in_flight` while its first request is being answered, `idempotency_mismatch` when
   * the key was answered for another request.
   */
  beginKeyed(key: string, fingerprint: string): Promise<KeyedStart>;
  /**
   * Ends it: stores `answer` durably (before it is sent) and resolves the answer stored for the
   * key, which is the first one given for it; without an answer, frees the key for a retry.
   */
  finishKeyed(
    key: string,
    fingerprint: string,
    answer?: { status: number; body: string },
  ): Promise<KeyedAnswer | undefined>;
}

/** The names of the {@link KeyedAnswers} operations, for the generic forwarding. */
export const KEYED_OPERATIONS = ["beginKeyed", "finishKeyed"] as const satisfies readonly (
  keyof KeyedAnswers
)[];

/** The sequences as the HTTP handlers see them: take numbers; administer sequences. */
export interface Sequences extends SequenceAdmin, KeyedAnswers {
  /**
   * Hands out `count` consecutive numbers of `name` and returns the first; every one of them was
   * durably reserved before it is returned and is never handed out again. Synchronous when a
   * reserved block has room, which is the common case; a promise when it must wait. A bare
   * bigint for a sequence without numbering settings; with its {@link Stamp} (period, format)
   * for one with them, whose numbers come from the period the clock is in at the take.
   * Never throws synchronously; the promise rejects with a {@link SequencerError}.
   */
  next(name: string, count: bigint): Taken | Promise<Taken>;
}

/**
 * The new bound after reserving `size` above `upper`, clamped at {@link INT64_MAX}; `undefined`
 * when `upper` is already at the maximum. Pure; shared by the stores so they agree exactly.
 */
export function raiseBound(upper: bigint, size: bigint): bigint | undefined {
  if (size < 1n) throw new RangeError(`size=${size} is invalid: must be at least 1`);
  if (upper >= INT64_MAX) return undefined;
  return INT64_MAX - upper < size ? INT64_MAX : upper + size;
}

/** The message of any thrown value, for logs and answers. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
