/**
 * {@link SequencerClient}: typed calls to a Sequencer server with `fetch` only, so it runs on
 * Deno, Node.js 20+ and browsers.
 *
 * @module
 */
import {
  type Batch,
  type CreateResult,
  type FloorResult,
  type Numbering,
  parseBatchAnswer,
  parseFloorAnswer,
  parseNumberAnswer,
  parsePageAnswer,
  parseRetireAnswer,
  parseSequenceAnswer,
  parseTakeAnswer,
  type RetireResult,
  type SequenceInfo,
  type SequencePage,
  type Taken,
} from "./answers.ts";
import { SequencerClientError } from "./error.ts";
import { Prefetcher, type PrefetchOptions } from "./prefetch.ts";
import { type CallOptions, type RetryEvent, send, type Transport } from "./request.ts";
import { type RetryOptions, retryPolicy } from "./retry.ts";

/** The sequence served by `GET /v1/sequence`; it always exists. */
export const DEFAULT_SEQUENCE = "default";

/** Valid sequence names: 1–64 characters of `[A-Za-z0-9._-]`, starting with a letter or digit. */
export const SEQUENCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Options of {@link SequencerClient}. */
export interface ClientOptions {
  /** Sent as `Authorization: Bearer <token>`; a function is asked before every attempt. */
  token?: string | (() => string | Promise<string>);
  /** Milliseconds a call may take, retries included (default 30,000). */
  timeoutMs?: number;
  /** Milliseconds one attempt may take before it is abandoned and retried (default 10,000). */
  attemptTimeoutMs?: number;
  /** How calls retry (`false`: never). */
  retry?: RetryOptions | false;
  /**
   * Whether calls that take numbers or change a sequence send an `Idempotency-Key`, the same on
   * each retry of one call (default true). A server that supports it answers a retry with the
   * first answer, so a retry never takes a second batch.
   */
  idempotencyKeys?: boolean;
  /** Extra headers on every request. */
  headers?: HeadersInit;
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
  /** Called before each retry (for logs). */
  onRetry?: (event: RetryEvent) => void;
}

/** Options of the calls that take numbers. */
export interface NextOptions extends CallOptions {
  /** The sequence (default `default`). */
  sequence?: string;
}

/** Options of {@link SequencerClient.create}: the call's, and the sequence's numbering settings. */
export interface CreateOptions extends CallOptions, Numbering {}

/** Options of {@link SequencerClient.list}. */
export interface ListOptions extends Omit<CallOptions, "idempotencyKey"> {
  /** Most sequences in the page (the server's default when absent). */
  limit?: number;
  /** Start after this name (the `next` of the previous page). */
  after?: string;
}

/**
 * A client of one Sequencer server. Every call takes a {@link CallOptions} (`signal`,
 * `timeoutMs`) and rejects with a {@link SequencerClientError}; numbers are exact `bigint`s.
 *
 * ```ts
 * const client = new SequencerClient("http://localhost:3000");
 * const id = await client.next({ sequence: "orders" });
 * ```
 */
export class SequencerClient {
  /** The base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly #transport: Transport;

  /**
   * @param baseUrl the server, e.g. `http://localhost:3000` (a path prefix is kept).
   * @param options token, time limits, retries.
   */
  constructor(baseUrl: string | URL, options: ClientOptions = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`base URL ${url} is invalid: must be http: or https:`);
    }
    this.baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    for (
      const [name, value] of [["timeoutMs", timeoutMs], ["attemptTimeoutMs", attemptTimeoutMs]]
    ) {
      if (!(typeof value === "number" && value > 0)) {
        throw new RangeError(`${name} ${value} is invalid: must be a number of milliseconds > 0`);
      }
    }
    const fetchFn = options.fetch;
    this.#transport = {
      base: this.baseUrl,
      // Called unbound: a browser's fetch throws when `this` is not the global object.
      fetch: fetchFn ?? ((input, init) => fetch(input, init)),
      timeoutMs,
      attemptTimeoutMs,
      retry: retryPolicy(options.retry),
      idempotencyKeys: options.idempotencyKeys ?? true,
      token: options.token,
      headers: new Headers(options.headers),
      onRetry: options.onRetry,
    };
  }

  /** The next number of `options.sequence` (default `default`). */
  async next(options: NextOptions = {}): Promise<bigint> {
    const path = `${numberPath(options.sequence)}?numbers=string`;
    const answer = await send(this.#transport, { method: "GET", path, idempotent: true }, options);
    return parseNumberAnswer(answer.text);
  }

  /**
   * The next number of `options.sequence` with its `period` and `formatted` text, for sequences
   * created with `reset` or `format` (an invoice series); for others it is {@link next}'s number.
   */
  async take(options: NextOptions = {}): Promise<Taken> {
    const path = `${numberPath(options.sequence)}?numbers=string`;
    const answer = await send(this.#transport, { method: "GET", path, idempotent: true }, options);
    return parseTakeAnswer(answer.text);
  }

  /**
   * `count` consecutive numbers of `options.sequence` in one call (`count` from 1 to the
   * server's `BATCH_MAX`, 100,000 by default). All or nothing: near the 64-bit top the call fails
   * with `exhausted`, whose `details.remaining` says how many are left.
   */
  async nextBatch(count: number, options: NextOptions = {}): Promise<Batch> {
    if (!(Number.isSafeInteger(count) && count >= 1)) {
      throw new SequencerClientError(
        "invalid",
        `count ${count} is invalid: must be an integer >= 1`,
      );
    }
    const path = `${numberPath(options.sequence)}?count=${count}&numbers=string`;
    const answer = await send(this.#transport, { method: "GET", path, idempotent: true }, options);
    return parseBatchAnswer(answer.text, count);
  }

  /**
   * Creates `name` starting at `start` (default 1), with the numbering settings of `options`
   * (`reset`, `timezone`, `format`) if given: `created` is true on 201, false when it exists with
   * this start and settings; other ones are a `conflict`.
   */
  async create(
    name: string,
    start?: bigint | number,
    options: CreateOptions = {},
  ): Promise<CreateResult> {
    const fields = [
      ...(start === undefined ? [] : [`"start":${exact(start, "start")}`]),
      ...(["reset", "timezone", "format"] as const)
        .filter((key) => options[key] !== undefined)
        .map((key) => `${JSON.stringify(key)}:${JSON.stringify(options[key])}`),
    ];
    const body = fields.length === 0 ? undefined : `{${fields.join(",")}}`;
    const answer = await send(this.#transport, {
      method: "PUT",
      path: `${adminPath(name)}?numbers=string`,
      body,
      idempotent: true,
    }, options);
    return { created: answer.status === 201, sequence: parseSequenceAnswer(answer.text) };
  }

  /** One sequence, without taking a number; `not_found` when it does not exist. */
  async get(name: string, options: CallOptions = {}): Promise<SequenceInfo> {
    const path = `${adminPath(name)}?numbers=string`;
    const answer = await send(this.#transport, { method: "GET", path }, options);
    return parseSequenceAnswer(answer.text);
  }

  /**
   * One page of sequences, by name. `next` is the `after` of the following page, `null` on the
   * last. A server without pagination answers every sequence in one page.
   */
  async list(options: ListOptions = {}): Promise<SequencePage> {
    const query = new URLSearchParams({ numbers: "string" });
    if (options.limit !== undefined) {
      if (!(Number.isSafeInteger(options.limit) && options.limit >= 1)) {
        throw new SequencerClientError(
          "invalid",
          `limit ${options.limit} is invalid: must be an integer >= 1`,
        );
      }
      query.set("limit", String(options.limit));
    }
    if (options.after !== undefined) query.set("after", options.after);
    const answer = await send(
      this.#transport,
      { method: "GET", path: `/v1/sequences?${query}` },
      options,
    );
    return parsePageAnswer(answer.text);
  }

  /** Every sequence, following the pages of {@link list}. */
  async *listAll(options: Omit<ListOptions, "after"> = {}): AsyncGenerator<SequenceInfo> {
    let after: string | undefined;
    for (;;) {
      const page = await this.list({ ...options, after });
      yield* page.sequences;
      if (page.next === null || page.sequences.length === 0) return;
      after = page.next;
    }
  }

  /**
   * Raises the floor of `name`: it will never hand out a number below `floor`. A floor at or
   * below what the sequence already guarantees changes nothing (`changed` false). `next` is the
   * lowest number no process has reserved yet (`null` at the 64-bit top).
   */
  async raiseFloor(
    name: string,
    floor: bigint | number,
    options: CallOptions = {},
  ): Promise<FloorResult> {
    const answer = await send(this.#transport, {
      method: "PATCH",
      path: `${adminPath(name)}?numbers=string`,
      body: `{"floor":${exact(floor, "floor")}}`,
      idempotent: true,
    }, options);
    return parseFloorAnswer(answer.text);
  }

  /**
   * Retires `name`: it hands out no more numbers (its next-number calls fail with `retired`,
   * status 410). Retiring a retired sequence changes nothing (`changed` false); `default`
   * cannot be retired (`conflict`).
   */
  async retire(name: string, options: CallOptions = {}): Promise<RetireResult> {
    const answer = await send(
      this.#transport,
      { method: "DELETE", path: `${adminPath(name)}?numbers=string`, idempotent: true },
      options,
    );
    return parseRetireAnswer(answer.text);
  }

  /**
   * A {@link Prefetcher} of `options.sequence`: numbers taken from a local buffer that batches
   * refill in the background. Close it when done.
   */
  prefetch(options: PrefetchOptions = {}): Prefetcher {
    return new Prefetcher(this, options);
  }
}

/** A sequence name, checked; `invalid` names the rule. */
function checkName(name: string): string {
  if (typeof name !== "string" || !SEQUENCE_NAME.test(name)) {
    throw new SequencerClientError(
      "invalid",
      `sequence name ${JSON.stringify(String(name).slice(0, 80))} is invalid: must be 1 to 64 ` +
        `characters of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return name;
}

function numberPath(sequence: string | undefined): string {
  return sequence === undefined || sequence === DEFAULT_SEQUENCE
    ? "/v1/sequence"
    : `/v1/sequence/${checkName(sequence)}`;
}

function adminPath(name: string): string {
  return `/v1/sequences/${checkName(name)}`;
}

/** The exact digits of an integer for a JSON body. */
function exact(value: bigint | number, what: string): string {
  if (typeof value === "bigint") return value.toString();
  if (Number.isSafeInteger(value)) return String(value);
  throw new SequencerClientError(
    "invalid",
    `${what} ${value} is invalid: must be a bigint or a safe integer (larger values: use a bigint)`,
  );
}
