/**
 * The v1 API: the seed's `GET /v1/sequence`, named sequences and batches, over `Sequences`.
 * Sequences with numbering settings (periods, a format) answer the same shape plus `period`,
 * `formatted` (and `lastFormatted` for a batch).
 *
 * @module
 */
import {
  DEFAULT_SEQUENCE,
  INT64_MAX,
  invalid,
  notFound,
  numberingOf,
  type SequenceRecord,
  SequencerError,
  type Sequences,
  type Stamped,
  type Taken,
} from "../../domain/domain.ts";
import { processClock } from "../../period/clock.ts";
import {
  describeNumbering,
  periodKey,
  periodName,
  sameNumbering,
  Zone,
} from "../../period/period.ts";
import { readBody } from "../../http/body.ts";
import { choiceParam, integerParam, singleParam } from "../../http/params.ts";
import { json, JSON_CONTENT_TYPE } from "../../http/respond.ts";
import { type Handler, type RequestContext, type Route, searchParams } from "../../http/router.ts";
import { parseCreateBody, parseFloorBody, parseName } from "./parse.ts";
import { answerKeyed, IDEMPOTENCY_HEADER, parseIdempotencyKey } from "./keyed.ts";
import { createHeaderReader } from "../../http/headers.ts";

/** Options of the v1 routes. */
export interface V1Options {
  /** Largest `count` per request. */
  batchMax: number;
  /** Milliseconds a request body has to arrive (default 30 s). */
  bodyTimeoutMs?: number;
  /**
   * The clock deciding a sequence's current period for `PATCH` and `GET` of one sequence (ms
   * since the epoch; default the process's, see `period/clock.ts`).
   */
  now?: () => number;
}

/** Largest request body accepted (bytes). */
export const MAX_BODY_BYTES = 1024;

/** Sequences on one page of `GET /v1/sequences`: `limit` from 1 to 1000, default 100. */
export const LIST_LIMIT = { name: "limit", min: 1, max: 1000, defaultValue: 100 };

/** What a number request asked for besides the sequence: a batch, a number format. */
interface TakeOptions {
  /** `count`, when given. */
  batch: bigint | undefined;
  /** `numbers`. */
  format: NumberFormat;
}

/** How numbers are written: as JSON numbers (default) or as JSON strings. */
export type NumberFormat = "number" | "string";

const FORMATS = ["number", "string"] as const;

// The seed's exact body, built from two constant halves around the digits: no JSON
// serialization and no object allocation, and bigints are written exactly.
const NUMBER_HEAD = '{"status":"ok","sequence":{"number":';
const NUMBER_TAIL = "}}";
// A number must never come from a cache: every answer is marked no-store. Built once as a
// `Headers`: Deno copies it into each response faster than it validates a plain object's entries.
// The response gets its own copy, so this one is never changed.
const HEADERS = new Headers({ "content-type": JSON_CONTENT_TYPE, "cache-control": "no-store" });

/** The answer carrying numbers: the seed's body, with `count` and `last` for a batch. */
function numberAnswer(first: bigint, options?: TakeOptions): Response {
  const batch = options?.batch;
  const q = options?.format === "string" ? '"' : "";
  const body = batch === undefined
    ? NUMBER_HEAD + q + first + q + NUMBER_TAIL
    : `${NUMBER_HEAD}${q}${first}${q},"count":${batch},"last":${q}${
      first + batch - 1n
    }${q}${NUMBER_TAIL}`;
  return new Response(body, { headers: HEADERS });
}

/**
 * The answer of a take of a sequence with numbering settings: the seed's shape, plus `period`
 * (with periods) and `formatted` (with a format; `lastFormatted` too for a batch). The formatted
 * strings are the same whatever `numbers` asks for.
 */
function stampedAnswer(taken: Stamped, options?: TakeOptions): Response {
  const { first, stamp } = taken;
  const batch = options?.batch;
  const q = options?.format === "string" ? '"' : "";
  const last = batch === undefined ? first : first + batch - 1n;
  let body = NUMBER_HEAD + q + first + q;
  if (batch !== undefined) body += `,"count":${batch},"last":${q}${last}${q}`;
  if (stamp.period !== undefined) body += `,"period":"${stamp.period}"`;
  if (stamp.format !== undefined) {
    body += `,"formatted":${JSON.stringify(stamp.format(first))}`;
    if (batch !== undefined) body += `,"lastFormatted":${JSON.stringify(stamp.format(last))}`;
  }
  return new Response(body + NUMBER_TAIL, { headers: HEADERS });
}

function answerOf(taken: Taken, options?: TakeOptions): Response {
  return typeof taken === "bigint" ? numberAnswer(taken, options) : stampedAnswer(taken, options);
}

function recordBody(record: SequenceRecord, format: NumberFormat) {
  const n = (value: bigint) => (format === "string" ? value.toString() : value);
  return {
    name: record.name,
    start: n(record.start),
    committed: n(record.upper),
    floor: n(record.floor),
    retired: record.retired,
    ...(record.reset === undefined ? {} : { reset: record.reset, timezone: record.timezone }),
    ...(record.format === undefined ? {} : { format: record.format }),
  };
}

/** A period's sub-sequence as shown under its sequence: its name (the period) and bounds. */
function periodBody(period: string, record: SequenceRecord, format: NumberFormat) {
  const n = (value: bigint) => (format === "string" ? value.toString() : value);
  return { name: period, committed: n(record.upper), floor: n(record.floor) };
}

/** The lowest number not yet reserved by any process: everything from it on is new. */
function nextFree(record: SequenceRecord): bigint | undefined {
  if (record.upper >= INT64_MAX) return undefined;
  return record.floor > record.upper + 1n ? record.floor : record.upper + 1n;
}

function formatOf(ctx: RequestContext): NumberFormat {
  return ctx.query === "" ? "number" : choiceParam(searchParams(ctx), "numbers", FORMATS);
}

/** The v1 routes over `sequences`. */
export function v1Routes(sequences: Sequences, options: V1Options): Route[] {
  const countRule = { name: "count", min: 1, max: options.batchMax };
  const bodyLimits = { maxBytes: MAX_BODY_BYTES, timeoutMs: options.bodyTimeoutMs ?? 30_000 };

  const header = createHeaderReader();
  const now = options.now ?? processClock();

  /** The current period of `record` (a sequence with periods) by this process's clock. */
  function currentPeriod(record: SequenceRecord): string {
    const numbering = numberingOf(record)!;
    if (numbering.reset === "never") throw new Error(`${record.name} has no periods`);
    return periodKey(new Zone(numbering.timezone).date(now()), numbering.reset);
  }

  /** Whether `record` is a live sequence with periods. */
  function periodic(record: SequenceRecord): boolean {
    return !record.retired && record.reset !== undefined && record.reset !== "never";
  }

  /** The one path of every number answer: read the query, take, write the body. */
  function next(req: Request, name: string, ctx: RequestContext): Response | Promise<Response> {
    let options: TakeOptions | undefined;
    if (ctx.query !== "") {
      const params = searchParams(ctx);
      const count = integerParam(params, countRule);
      options = {
        batch: count === undefined ? undefined : BigInt(count),
        format: choiceParam(params, "numbers", FORMATS),
      };
    }
    const key = header(req, IDEMPOTENCY_HEADER);
    if (key === null) return take(name, options);
    const fingerprint = `GET ${name} count=${options?.batch ?? "-"} numbers=${
      options?.format ?? "number"
    }`;
    return answerKeyed(
      sequences,
      { key: parseIdempotencyKey(key), fingerprint },
      () => take(name, options),
    );
  }

  /** Takes the numbers and writes the answer (without a query: no allocation on the way). */
  function take(name: string, options?: TakeOptions): Response | Promise<Response> {
    const taken = sequences.next(name, options?.batch ?? 1n);
    if (typeof taken === "bigint") return numberAnswer(taken, options);
    return taken instanceof Promise
      ? taken.then((t) => answerOf(t, options))
      : stampedAnswer(taken, options);
  }

  /**
   * `handler` for an admin route, answered once per `Idempotency-Key` when the request has one:
   * the body is read first, as part of what identifies the request.
   */
  function keyed(handler: Handler): Handler {
    return async (req, ctx) => {
      const raw = header(req, IDEMPOTENCY_HEADER);
      if (raw === null) return await handler(req, ctx);
      const key = parseIdempotencyKey(raw);
      const body = await readBody(req, bodyLimits);
      const fingerprint = `${req.method} ${ctx.path}?${ctx.query}\n${body}`;
      const again = new Request(`http://h${ctx.path}`, {
        method: req.method,
        ...(body === "" ? {} : { body }),
      });
      return await answerKeyed(sequences, { key, fingerprint }, () => handler(again, ctx));
    };
  }

  const create: Handler = async (req, ctx) => {
    const name = parseName(ctx.params.name);
    const format = formatOf(ctx);
    // The body is read as JSON whatever its content-type says, so `curl -d '{"start":5}'`
    // (which labels it as a form) works as a user expects.
    const { start, numbering } = parseCreateBody(await readBody(req, bodyLimits));
    if (name === DEFAULT_SEQUENCE && numbering !== undefined) {
      throw new SequencerError(
        "conflict",
        `sequence "default" cannot have numbering settings: GET /v1/sequence serves it as it is`,
      );
    }
    const result = await sequences.create(name, start, numbering);
    if (!result.created && result.record.retired) {
      throw new SequencerError(
        "conflict",
        `sequence ${JSON.stringify(name)} is retired; it can be created again only with a ` +
          `start above its committed bound ${result.record.upper}`,
        { details: { sequence: name, committed: result.record.upper } },
      );
    }
    if (result.record.start !== start) {
      throw new SequencerError(
        "conflict",
        `sequence ${JSON.stringify(name)} already exists with start ${result.record.start}, ` +
          `not ${start}`,
      );
    }
    const existing = numberingOf(result.record);
    if (!sameNumbering(existing, numbering)) {
      throw new SequencerError(
        "conflict",
        `sequence ${JSON.stringify(name)} already exists with ${describeNumbering(existing)}, ` +
          `not ${describeNumbering(numbering)}`,
      );
    }
    return json(result.created ? 201 : 200, {
      status: "ok",
      sequence: recordBody(result.record, format),
    });
  };

  const show: Handler = async (_req, ctx) => {
    const name = parseName(ctx.params.name);
    const format = formatOf(ctx);
    const record = await sequences.get(name);
    if (record === undefined) throw notFound(name);
    if (!periodic(record)) return json(200, { status: "ok", sequence: recordBody(record, format) });
    // The current period, as far as it went (nothing yet when its sub-sequence does not exist).
    const period = currentPeriod(record);
    const current = await sequences.get(periodName(name, period)) ??
      { ...record, upper: record.start - 1n, floor: record.start };
    return json(200, {
      status: "ok",
      sequence: recordBody(record, format),
      period: periodBody(period, current, format),
    });
  };

  const list: Handler = async (_req, ctx) => {
    const params = searchParams(ctx);
    const format = choiceParam(params, "numbers", FORMATS);
    const limit = integerParam(params, LIST_LIMIT);
    const after = singleParam(params, "after");
    if (after !== undefined && after.length > 64) {
      throw invalid(
        `query parameter after is invalid: must be a sequence name (at most 64 characters)`,
      );
    }
    const records = await sequences.list({
      limit,
      hidePeriods: true,
      ...(after === undefined ? {} : { after }),
    });
    return json(200, {
      status: "ok",
      sequences: records.map((record) => recordBody(record, format)),
      next: records.length === limit ? records[records.length - 1].name : null,
    });
  };

  const raiseFloor: Handler = async (req, ctx) => {
    const name = parseName(ctx.params.name);
    const format = formatOf(ctx);
    const floor = parseFloorBody(await readBody(req, bodyLimits));
    let before = await sequences.get(name);
    if (before === undefined) throw notFound(name);
    // A sequence with periods: the floor applies to the current period (by this process's
    // clock), whose sub-sequence is created if it does not exist yet.
    const sequence = before;
    let period: string | undefined;
    if (periodic(sequence)) {
      period = currentPeriod(sequence);
      before = (await sequences.create(periodName(name, period), sequence.start)).record;
    }
    // Recorded in every case (raise-only; unused numbers below it held in memory are dropped),
    // but a floor at or below the next free number changes nothing a client can see.
    const { record } = await sequences.raiseFloor(before.name, floor);
    const free = nextFree(before);
    const changed = free !== undefined && floor > free;
    const next = nextFree(record);
    return json(200, {
      status: "ok",
      sequence: recordBody(period === undefined ? record : sequence, format),
      ...(period === undefined ? {} : { period: periodBody(period, record, format) }),
      changed,
      next: next === undefined ? null : format === "string" ? next.toString() : next,
      ...(changed ? {} : {
        note: `floor ${floor} is at or below the next free number ${free ?? "(none)"} ` +
          `(committed ${before.upper}): nothing changed`,
      }),
    });
  };

  const retire: Handler = async (_req, ctx) => {
    const name = parseName(ctx.params.name);
    const format = formatOf(ctx);
    if (name === DEFAULT_SEQUENCE) {
      throw new SequencerError(
        "conflict",
        `sequence "default" cannot be retired: GET /v1/sequence serves it`,
      );
    }
    const { record, changed } = await sequences.retire(name);
    return json(200, { status: "ok", sequence: recordBody(record, format), changed });
  };

  return [
    {
      method: "GET",
      path: "/v1/sequence",
      access: { next: { name: DEFAULT_SEQUENCE } },
      handler: (req, ctx) => next(req, DEFAULT_SEQUENCE, ctx),
      summary: "next number of the default sequence",
    },
    {
      method: "GET",
      path: "/v1/sequence/:name",
      access: { next: { param: "name" } },
      handler: (req, ctx) => next(req, parseName(ctx.params.name), ctx),
      summary: "next number of a named sequence",
    },
    {
      method: "GET",
      path: "/v1/sequences",
      access: "admin",
      handler: list,
      summary: "list sequences",
    },
    {
      method: "GET",
      path: "/v1/sequences/:name",
      access: { next: { param: "name" } },
      handler: show,
      summary: "show one sequence without consuming a number",
    },
    {
      method: "PUT",
      path: "/v1/sequences/:name",
      access: "admin",
      handler: keyed(create),
      summary: "create a named sequence",
    },
    {
      method: "PATCH",
      path: "/v1/sequences/:name",
      access: "admin",
      handler: keyed(raiseFloor),
      summary: "raise a sequence's floor: no number below it is ever answered",
    },
    {
      method: "DELETE",
      path: "/v1/sequences/:name",
      access: "admin",
      handler: keyed(retire),
      summary: "retire a sequence: it answers 410 from then on",
    },
  ];
}
