/**
 * The v1 API: the seed's `GET /v1/sequence`, named sequences and batches.
 *
 * @module
 */
import type { SequenceService } from "../../atomicSequence/sequences.ts";
import { TooManySequencesError } from "../../atomicSequence/owner.ts";
import {
  DEFAULT_SEQUENCE,
  SequenceExhaustedError,
  SequenceNotFoundError,
  type SequenceRecord,
  StoreUnavailableError,
} from "../../store/store.ts";
import { json, JSON_CONTENT_TYPE, jsonError } from "../respond.ts";
import type { Handler, Route } from "../router.ts";
import {
  type NumberFormat,
  parseCount,
  parseCreateBody,
  parseName,
  parseNumberFormat,
} from "./parse.ts";

/** Options of the v1 routes. */
export interface V1Options {
  /** Largest `count` per request. */
  batchMax: number;
}

/** Largest create body accepted (bytes). */
export const MAX_BODY_BYTES = 1024;

// The seed's exact body, built from two constant halves around the digits: no JSON
// serialization and no object allocation on the hot path, and bigints are written exactly.
const NUMBER_HEAD = '{"status":"ok","sequence":{"number":';
const NUMBER_TAIL = "}}";
// A number must never come from a cache: every answer is marked no-store. Built once as a
// `Headers`: Deno copies it into each response faster than it validates a plain object's entries
// (measured: about 10% more requests per second). The response gets its own copy, so this one is
// never changed.
const HEADERS = new Headers({ "content-type": JSON_CONTENT_TYPE, "cache-control": "no-store" });

function numberBody(first: bigint, count: bigint | undefined, format: NumberFormat): string {
  const q = format === "string" ? '"' : "";
  if (count === undefined) return NUMBER_HEAD + q + first + q + NUMBER_TAIL;
  const last = first + count - 1n;
  return `${NUMBER_HEAD}${q}${first}${q},"count":${count},"last":${q}${last}${q}${NUMBER_TAIL}`;
}

/** Maps a service error to its answer; anything unexpected is rethrown (the router's 500). */
export function errorResponse(error: unknown): Response {
  if (error instanceof SequenceNotFoundError) return jsonError(404, error.message);
  if (error instanceof SequenceExhaustedError) return jsonError(409, error.message);
  if (error instanceof StoreUnavailableError || error instanceof TooManySequencesError) {
    return jsonError(503, `service unavailable: ${error.message}`, { "retry-after": "1" });
  }
  throw error;
}

function recordBody(record: SequenceRecord, format: NumberFormat) {
  const n = (value: bigint) => (format === "string" ? value.toString() : value);
  return { name: record.name, start: n(record.start), committed: n(record.upper) };
}

/** The v1 routes over a {@link SequenceService}. */
export function v1Routes(service: SequenceService, options: V1Options): Route[] {
  async function serveNext(name: string, url: URL): Promise<Response> {
    const count = parseCount(url.searchParams, options.batchMax);
    if (!count.ok) return jsonError(400, count.error);
    const format = parseNumberFormat(url.searchParams);
    if (!format.ok) return jsonError(400, format.error);
    try {
      const first = await service.next(name, count.value ?? 1n);
      return new Response(numberBody(first, count.value, format.value), { headers: HEADERS });
    } catch (error) {
      return errorResponse(error);
    }
  }

  // The seed's endpoint. Without a query string and once the default slot is known, a request
  // is one synchronous take from the shared block: no URL parsing, no await, no JSON encoder.
  const fastDefault = (_req: Request, search: string): Response | undefined => {
    if (search !== "") return undefined;
    const slot = service.knownSlot(DEFAULT_SEQUENCE);
    if (slot === undefined) return undefined;
    const first = service.takeNow(slot, 1n);
    if (first === undefined) return undefined;
    return new Response(NUMBER_HEAD + first + NUMBER_TAIL, { headers: HEADERS });
  };
  const nextDefault: Handler = (_req, url) => serveNext(DEFAULT_SEQUENCE, url);

  const nextNamed: Handler = (_req, url, params) => {
    const name = parseName(params.name);
    if (!name.ok) return jsonError(400, name.error);
    return serveNext(name.value, url);
  };

  const create: Handler = async (req, url, params) => {
    const name = parseName(params.name);
    if (!name.ok) return jsonError(400, name.error);
    // The body is read as JSON whatever its content-type says, so `curl -d '{"start":5}'`
    // (which labels it as a form) works as a user expects.
    const text = await readLimited(req, MAX_BODY_BYTES);
    if (text === undefined) {
      return jsonError(413, `request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    const start = parseCreateBody(text);
    if (!start.ok) return jsonError(400, start.error);
    const format = parseNumberFormat(url.searchParams);
    if (!format.ok) return jsonError(400, format.error);
    try {
      const result = await service.create(name.value, start.value);
      if (result.record.start !== start.value) {
        return jsonError(
          409,
          `sequence ${JSON.stringify(name.value)} already exists with start ` +
            `${result.record.start}, not ${start.value}`,
        );
      }
      return json(result.created ? 201 : 200, {
        status: "ok",
        sequence: recordBody(result.record, format.value),
      });
    } catch (error) {
      return errorResponse(error);
    }
  };

  const show: Handler = async (_req, url, params) => {
    const name = parseName(params.name);
    if (!name.ok) return jsonError(400, name.error);
    const format = parseNumberFormat(url.searchParams);
    if (!format.ok) return jsonError(400, format.error);
    try {
      const record = await service.info(name.value);
      if (record === undefined) return errorResponse(new SequenceNotFoundError(name.value));
      return json(200, { status: "ok", sequence: recordBody(record, format.value) });
    } catch (error) {
      return errorResponse(error);
    }
  };

  const list: Handler = async (_req, url) => {
    const format = parseNumberFormat(url.searchParams);
    if (!format.ok) return jsonError(400, format.error);
    try {
      const records = await service.list();
      return json(200, {
        status: "ok",
        sequences: records.map((record) => recordBody(record, format.value)),
      });
    } catch (error) {
      return errorResponse(error);
    }
  };

  return [
    {
      method: "GET",
      path: "/v1/sequence",
      handler: nextDefault,
      fast: fastDefault,
      summary: "next number of the default sequence",
    },
    {
      method: "GET",
      path: "/v1/sequence/:name",
      handler: nextNamed,
      summary: "next number of a named sequence",
    },
    { method: "GET", path: "/v1/sequences", handler: list, summary: "list sequences" },
    {
      method: "GET",
      path: "/v1/sequences/:name",
      handler: show,
      summary: "show one sequence without consuming a number",
    },
    {
      method: "PUT",
      path: "/v1/sequences/:name",
      handler: create,
      summary: "create a named sequence",
    },
  ];
}

/** The body as text, or `undefined` when it is longer than `limit` bytes (reading stops there). */
async function readLimited(req: Request, limit: number): Promise<string | undefined> {
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
