/**
 * The service's own timeline, recorded as Chrome trace events (the JSON object format that
 * Perfetto and `chrome://tracing` open). Deno's inspector has no V8 tracing domain, so this is
 * what `/debug/pprof/trace` serves instead of Go's execution trace.
 *
 * Each thread has one {@link Tracer}, which records while a capture runs and costs one boolean
 * check otherwise. Request handling is wrapped with {@link traceRequests}; block reservations are
 * recorded by {@link reservationTracer}. Complete events are placed on numbered
 * "lanes" (trace threads) so that overlapping concurrent spans never share a lane, while spans
 * nested inside one another (a request around a block reservation around a store commit) share
 * one and display nested.
 *
 * ## Memory budget
 *
 * A trace's size does not depend on what clients send:
 *
 * - Every recorded field is bounded. A request's path is cut to {@link TRACE_PATH_MAX} UTF-8 bytes
 *   (then `…` is appended and `args.pathBytes` holds the full length), its method to
 *   {@link TRACE_METHOD_MAX}, an error's text to {@link TRACE_ERROR_MAX}; a sequence name is at
 *   most 64 characters by the domain's rule and is cut there too. Cut texts are copies, never
 *   slices that would keep a client's whole 60 KB URL alive.
 * - One process keeps at most {@link TRACE_MAX_EVENTS} events per trace, split evenly over its
 *   threads ({@link traceShare}); each thread keeps at most {@link TRACE_MAX_LANES} lanes. Events
 *   past either cap are counted in `otherData.droppedEvents` (summed over the threads of a merged
 *   document, with each thread's count in `otherData.threads`).
 * - The answer is streamed ({@link encodeTrace}), never built as one string.
 *
 * Worst case, one event is at most {@link TRACE_EVENT_JSON_MAX} bytes of JSON (a request whose
 * cut path is all characters JSON escapes, with an error text, on the largest numbers) and one
 * lane's name {@link TRACE_LANE_JSON_MAX}; {@link traceJsonBytesMax} adds them up: 210.3 MB with
 * `WORKERS=1` (two threads), 219.7 MB with `WORKERS=64`. A request for a 60 KB path of plain
 * characters records 344 bytes, one for a short path about 150.
 *
 * While a trace runs and is answered, the process's resident memory grows by at most
 * {@link TRACE_RSS_BASE} plus {@link TRACE_RSS_PER_EVENT} per recorded event: 1.1 GB at the cap.
 * That holds once each API worker keeps to its share: the profiler asks them to
 * (`OtherThreads.traceStart({ maxEvents })`); a worker that records more is cut to its share
 * when the threads merge, so the answer stays within its bound either way, but what it
 * recorded is copied to the main thread first.
 *
 * @module
 */
import { errorText } from "../domain/domain.ts";
import { toJson } from "../http/respond.ts";

/** One Chrome trace event (the subset of the trace-event format this recorder writes). */
export interface TraceEvent {
  /** Event name shown on the slice. */
  name: string;
  /** Comma-separated categories. */
  cat?: string;
  /** Phase: `X` complete, `C` counter, `M` metadata. */
  ph: "X" | "C" | "M";
  /** Timestamp, microseconds. */
  ts: number;
  /** Duration, microseconds (complete events only). */
  dur?: number;
  /** Process id. */
  pid: number;
  /** Thread (lane) id. */
  tid: number;
  /** Arguments shown in the details pane; counter events carry their series here. */
  args?: Record<string, unknown>;
}

/** Events one thread kept and dropped. */
export interface ThreadEventCount {
  /** Thread name, e.g. `main` or `api-worker-0`. */
  thread: string;
  /** Events in the document. */
  recordedEvents: number;
  /** Events past the thread's caps, left out. */
  droppedEvents: number;
}

/** Facts about a capture, in the document's `otherData`. */
export interface TraceSummary {
  /** When the capture started, on the trace clock (microseconds). */
  startedAtUs: number;
  /** When it stopped. */
  stoppedAtUs: number;
  /** Events in the document (metadata not counted). */
  recordedEvents: number;
  /** Events left out because a cap was reached. */
  droppedEvents: number;
  /** Per thread, in a merged document. */
  threads?: ThreadEventCount[];
}

/** A finished capture in the trace-event JSON object format. */
export interface TraceDocument {
  /** All recorded events, metadata first. */
  traceEvents: TraceEvent[];
  /** Unit the viewers show durations in. */
  displayTimeUnit: "ms";
  /** Facts about the capture itself. */
  otherData: TraceSummary;
}

/** Options of {@link Tracer.start}. */
export interface TraceStartOptions {
  /** Events kept at most; later ones are counted as dropped. Default {@link TRACE_MAX_EVENTS}. */
  maxEvents?: number;
}

/** Lane id used for counters (event-loop delay, memory). */
export const COUNTER_TID = 0;

/** Top-level intervals of one lane, sorted by start, disjoint. */
type Lane = { start: number; end: number }[];

/**
 * Most events one trace keeps in the whole process (split over its threads by
 * {@link traceShare}); later ones are counted as dropped.
 */
export const TRACE_MAX_EVENTS = 200_000;

/**
 * Most lanes one thread uses: as many requests as may overlap without nesting. An event that
 * would need one more is dropped.
 */
export const TRACE_MAX_LANES = 1_000;

/** Longest request path a trace event keeps, in UTF-8 bytes; longer ones are cut (`…`). */
export const TRACE_PATH_MAX = 200;

/** Longest request method kept, in bytes (the longest registered HTTP method has 17). */
export const TRACE_METHOD_MAX = 20;

/** Longest error text kept, in UTF-8 bytes. */
export const TRACE_ERROR_MAX = 200;

/** Longest sequence name kept (the domain allows 64 characters). */
const SEQUENCE_NAME_MAX = 64;

/**
 * Largest JSON of one event, in bytes: a request event with every field at its worst. Its name is
 * a cut method (20 bytes of a token, no escapes) and a cut path (200 bytes of `"`, each escaped to
 * two); `ts`, `dur`, `pid`, `tid` and `args.pathBytes` are numbers of at most 24 characters;
 * `args.error` is 200 bytes of `"` (control characters are replaced with spaces, and the HTTP
 * server accepts neither them nor invalid UTF-8 in a request target). That event is 1,043 bytes
 * (trace_test.ts builds it over real HTTP); with `status` instead of `error`, 642.
 */
export const TRACE_EVENT_JSON_MAX = 1_050;

/**
 * Largest JSON of one lane's name (metadata): `api-worker-63: spans 1000` with 24-character
 * `pid` and `tid` is 144 bytes.
 */
export const TRACE_LANE_JSON_MAX = 150;

/**
 * Resident memory a trace may add to a process per recorded event, on top of
 * {@link TRACE_RSS_BASE}: the events in their thread, their copies on the way to the main thread,
 * the answer's encoding, and the garbage the runtime leaves until it collects. Measured on a
 * service flooded with 60 KB URLs (`WORKERS=1`): 4–8 KB per event in the 20 s test
 * (profiling_trace_budget_test.ts, 15–35 thousand events, most of it fixed cost), and 549 MB for
 * 114,466 events (4.8 KB each) in a 150 s flood that reached the cap, 392 MB of it in the second
 * when the worker's events were copied to the main thread and encoded.
 */
export const TRACE_RSS_PER_EVENT = 5 * 1024;

/** Resident memory a trace may add whatever it records (the flood's own buffers included). */
export const TRACE_RSS_BASE = 128 * 1024 * 1024;

/** Bytes of a document besides its events (braces, `displayTimeUnit`, `otherData`), per thread. */
const TRACE_FRAME_JSON_MAX = 300;

/**
 * Events each thread may keep when `threads` threads share one process's budget.
 * @param budget the process's budget; default {@link TRACE_MAX_EVENTS}.
 */
export function traceShare(threads: number, budget: number = TRACE_MAX_EVENTS): number {
  return Math.max(1, Math.floor(budget / Math.max(1, threads)));
}

/**
 * The most bytes the JSON of a trace of a process with `threads` threads can have: every kept
 * event at {@link TRACE_EVENT_JSON_MAX}, plus two metadata events per thread and one lane name
 * per kept event (at most {@link TRACE_MAX_LANES} per thread) at {@link TRACE_LANE_JSON_MAX}.
 */
export function traceJsonBytesMax(threads: number): number {
  const events = traceShare(threads) * threads;
  const lanes = Math.min(events, TRACE_MAX_LANES * threads) + 2 * threads;
  return events * TRACE_EVENT_JSON_MAX + lanes * TRACE_LANE_JSON_MAX +
    threads * TRACE_FRAME_JSON_MAX;
}

/** Records trace events while a capture runs; one per thread. */
export class Tracer {
  /** True while a capture runs. The one check a call site makes before recording anything. */
  active = false;
  #events: TraceEvent[] = [];
  #lanes: Lane[] = [];
  #dropped = 0;
  #maxEvents = TRACE_MAX_EVENTS;
  #startedAt = 0;
  readonly #pid = Deno.pid;

  /** Current time on the trace clock, microseconds. */
  now(): number {
    return performance.now() * 1000;
  }

  /**
   * Starts a capture: clears earlier events and sets {@link Tracer.active}. Throws when one
   * already runs (the debug server allows one trace at a time).
   */
  start(options: TraceStartOptions = {}): void {
    if (this.active) throw new Error("tracer.start: a trace capture is already running");
    this.#events = [];
    this.#lanes = [];
    this.#dropped = 0;
    this.#maxEvents = options.maxEvents ?? TRACE_MAX_EVENTS;
    this.#startedAt = this.now();
    this.active = true;
  }

  /**
   * Ends the capture and returns everything recorded, sorted by start time, after metadata naming
   * the process and the lanes.
   */
  stop(): TraceDocument {
    const stoppedAt = this.now();
    this.active = false;
    const meta: TraceEvent[] = [
      {
        name: "process_name",
        ph: "M",
        ts: 0,
        pid: this.#pid,
        tid: 0,
        args: { name: "sequencer" },
      },
      {
        name: "thread_name",
        ph: "M",
        ts: 0,
        pid: this.#pid,
        tid: COUNTER_TID,
        args: { name: "event loop" },
      },
    ];
    for (let lane = 1; lane <= this.#lanes.length; lane++) {
      meta.push({
        name: "thread_name",
        ph: "M",
        ts: 0,
        pid: this.#pid,
        tid: lane,
        args: { name: `spans ${lane}` },
      });
    }
    // Recorded in end order; viewers read most easily in start order, parents before children.
    const events = this.#events.sort(byStart);
    this.#events = [];
    this.#lanes = [];
    return {
      traceEvents: [...meta, ...events],
      displayTimeUnit: "ms",
      otherData: {
        startedAtUs: this.#startedAt,
        stoppedAtUs: stoppedAt,
        recordedEvents: events.length,
        droppedEvents: this.#dropped,
      },
    };
  }

  /** Records a complete (`ph:"X"`) event; `ts` and `dur` in microseconds. No-op when inactive. */
  complete(
    name: string,
    cat: string,
    ts: number,
    dur: number,
    args?: Record<string, unknown>,
  ): void {
    if (!this.active) return;
    if (this.#full()) return;
    const tid = this.#laneFor(ts, ts + dur);
    if (tid === undefined) {
      this.#dropped++;
      return;
    }
    this.#events.push({
      name,
      cat,
      ph: "X",
      ts,
      dur,
      pid: this.#pid,
      tid,
      ...(args ? { args } : {}),
    });
  }

  /** Records a counter (`ph:"C"`): each key of `values` is one series of the `name` track. */
  counter(name: string, values: Record<string, number>, ts: number = this.now()): void {
    if (!this.active) return;
    if (this.#full()) return;
    this.#events.push({ name, ph: "C", ts, pid: this.#pid, tid: COUNTER_TID, args: values });
  }

  /** True, and counted as dropped, when the capture holds its most events. */
  #full(): boolean {
    if (this.#events.length < this.#maxEvents) return false;
    this.#dropped++;
    return true;
  }

  /**
   * Picks the first lane where `[start, end]` overlaps nothing or nests cleanly (contains, or is
   * contained by, every interval it touches), and adds it there; a new lane when none fits,
   * `undefined` when there are {@link TRACE_MAX_LANES} already.
   */
  #laneFor(start: number, end: number): number | undefined {
    for (let i = 0; i < this.#lanes.length; i++) {
      if (tryPlace(this.#lanes[i], start, end)) return i + 1;
    }
    if (this.#lanes.length >= TRACE_MAX_LANES) return undefined;
    this.#lanes.push([{ start, end }]);
    return this.#lanes.length;
  }
}

/** Start order, an enclosing span before what it encloses. */
export function byStart(a: TraceEvent, b: TraceEvent): number {
  return a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0);
}

/**
 * Adds `[start, end]` to a lane of disjoint top-level intervals if it nests cleanly; returns
 * whether it did. Top-level intervals inside the new one become nested under it. A new interval
 * that would fall inside an existing one is refused (its children are not tracked); with events
 * recorded as they end, that only happens for identical end times.
 */
function tryPlace(lane: Lane, start: number, end: number): boolean {
  // Intervals starting at or after `start` sit at the tail; each must lie inside the new one
  // or entirely after it.
  let i = lane.length;
  while (i > 0 && lane[i - 1].start >= start) {
    const iv = lane[i - 1];
    if (iv.start < end && iv.end > end) return false;
    i--;
  }
  // The interval before them starts earlier, so it must end by `start`.
  if (i > 0 && lane[i - 1].end > start) return false;
  let j = i;
  while (j < lane.length && lane[j].start < end) j++;
  lane.splice(i, j - i, { start, end });
  return true;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ASCII = /^[\x20-\x7e]*$/;

/** UTF-8 length of `text`. */
function utf8Bytes(text: string): number {
  return ASCII.test(text) ? text.length : encoder.encode(text).byteLength;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character, with `…` appended and
 * the full length in `bytes` when it was cut. The result is always a fresh string: a slice would
 * keep the whole string it came from alive (a client's 60 KB URL) for as long as the trace runs.
 */
export function cutText(text: string, maxBytes: number): { text: string; bytes?: number } {
  const buffer = new Uint8Array(maxBytes);
  const { read, written } = encoder.encodeInto(text, buffer);
  const copy = decoder.decode(buffer.subarray(0, written));
  if (read >= text.length) return { text: copy };
  return { text: `${copy}…`, bytes: utf8Bytes(text) };
}

/** The path of a request URL, without parsing the whole URL; `/` when it has none. */
function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return "/";
  const end = url.slice(slash).search(/[?#]/);
  return end < 0 ? url.slice(slash) : url.slice(slash, slash + end);
}

/** `Name: message` of a thrown value, without control characters, cut to its bound. */
function errorField(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${errorText(error)}` : errorText(error);
  // deno-lint-ignore no-control-regex
  return cutText(text.replace(/[\x00-\x1f\x7f]/g, " "), TRACE_ERROR_MAX).text;
}

/**
 * `handler`, recording each request while a trace runs as a complete event named
 * `"<METHOD> <path>"` in category `http` with `args` `{ status }` (or `{ error }`, `Name:
 * message`); a path longer than {@link TRACE_PATH_MAX} bytes is cut, with `args.pathBytes` its full
 * length. When no trace runs a request costs one boolean check.
 */
export function traceRequests(
  tracer: Tracer,
  handler: (req: Request, peer?: string) => Response | Promise<Response>,
): (req: Request, peer?: string) => Response | Promise<Response> {
  return (req, peer) =>
    tracer.active ? traced(tracer, req, (r) => handler(r, peer)) : handler(req, peer);
}

function traced(
  tracer: Tracer,
  req: Request,
  handler: (req: Request) => Response | Promise<Response>,
): Response | Promise<Response> {
  const start = tracer.now();
  let raw: string;
  try {
    raw = pathOf(req.url);
  } catch {
    raw = "(invalid URL)";
  }
  const method = cutText(req.method, TRACE_METHOD_MAX).text;
  const path = cutText(raw, TRACE_PATH_MAX);
  const name = `${method} ${path.text}`;
  const cut = path.bytes === undefined ? undefined : { pathBytes: path.bytes };
  const record = (args: Record<string, unknown>) =>
    tracer.complete(name, "http", start, tracer.now() - start, { ...cut, ...args });
  let result: Response | Promise<Response>;
  try {
    result = handler(req);
  } catch (error) {
    record({ error: errorField(error) });
    throw error;
  }
  if (result instanceof Response) {
    record({ status: result.status });
    return result;
  }
  return result.then(
    (response) => {
      record({ status: response.status });
      return response;
    },
    (error: unknown) => {
      record({ error: errorField(error) });
      throw error;
    },
  );
}

/**
 * The owner's `onReserve` hook for `tracer`: each block reservation and its store commit become
 * complete events (times from `performance.now()`, in milliseconds).
 */
export function reservationTracer(
  tracer: Tracer,
): (name: string, size: bigint, started: number, committed: number, installed: number) => void {
  return (name, size, started, committed, installed) => {
    if (!tracer.active) return;
    const args = { sequence: cutText(name, SEQUENCE_NAME_MAX).text, size: String(size) };
    const us = (ms: number) => ms * 1000;
    tracer.complete("block reservation", "allocator", us(started), us(installed - started), args);
    tracer.complete("store commit", "store", us(started), us(committed - started), args);
  };
}

/** Events per chunk of {@link encodeTrace}'s stream. */
const EVENTS_PER_CHUNK = 1_000;

/**
 * The document as a stream of UTF-8 JSON, a thousand events per chunk, so that answering a large
 * trace never builds it as one string. Bigints are written as exact digits.
 */
export function encodeTrace(doc: TraceDocument): ReadableStream<Uint8Array> {
  const events = doc.traceEvents;
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      let text = next === 0 ? '{"traceEvents":[' : "";
      const end = Math.min(events.length, next + EVENTS_PER_CHUNK);
      for (let i = next; i < end; i++) text += (i === 0 ? "" : ",") + toJson(events[i]);
      next = end;
      if (next >= events.length) {
        text += `],"displayTimeUnit":${toJson(doc.displayTimeUnit)},"otherData":${
          toJson(doc.otherData)
        }}`;
        controller.enqueue(encoder.encode(text));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(text));
    },
  }, { highWaterMark: 0 });
}
