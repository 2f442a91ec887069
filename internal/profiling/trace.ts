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
 * @module
 */

/** One Chrome trace event (the subset of the trace-event format this recorder writes). */
export interface TraceEvent {
  /** Event name shown on the slice. */
  name: string;
  /** Comma-separated categories. */
  cat?: string;
  /** Phase: `X` complete, `C` counter, `i` instant, `M` metadata. */
  ph: "X" | "C" | "i" | "M";
  /** Timestamp, microseconds. */
  ts: number;
  /** Duration, microseconds (complete events only). */
  dur?: number;
  /** Process id. */
  pid: number;
  /** Thread (lane) id. */
  tid: number;
  /** Instant-event scope (`t` thread, `p` process, `g` global). */
  s?: "t" | "p" | "g";
  /** Arguments shown in the details pane; counter events carry their series here. */
  args?: Record<string, unknown>;
}

/** A finished capture in the trace-event JSON object format. */
export interface TraceDocument {
  /** All recorded events, metadata first. */
  traceEvents: TraceEvent[];
  /** Unit the viewers show durations in. */
  displayTimeUnit: "ms";
  /** Facts about the capture itself. */
  otherData: Record<string, unknown>;
}

/** Options of {@link Tracer.start}. */
export interface TraceStartOptions {
  /** Events kept at most; later ones are counted as dropped. Default {@link TRACE_MAX_EVENTS}. */
  maxEvents?: number;
  /** Process name written as metadata. Default `"sequencer"`. */
  processName?: string;
}

/** Lane id used for counters (event-loop delay, memory). */
export const COUNTER_TID = 0;

/** Top-level intervals of one lane, sorted by start, disjoint. */
type Lane = { start: number; end: number }[];

/** Most events one capture keeps per thread by default; later ones are counted as dropped. */
export const TRACE_MAX_EVENTS = 200_000;

/** Longest request path a trace event keeps; longer ones are cut (the event says so). */
export const TRACE_PATH_MAX = 200;

/** Records trace events while a capture runs; one per thread. */
export class Tracer {
  /** True while a capture runs. The one check a call site makes before recording anything. */
  active = false;
  #events: TraceEvent[] = [];
  #lanes: Lane[] = [];
  #dropped = 0;
  #maxEvents = TRACE_MAX_EVENTS;
  #processName = "sequencer";
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
    this.#processName = options.processName ?? "sequencer";
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
        args: { name: this.#processName },
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
    const events = this.#events.sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
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

  /** The start time for {@link Tracer.end}: {@link Tracer.now} while active, else `-1`. */
  begin(): number {
    return this.active ? this.now() : -1;
  }

  /** Records a complete event from `start` (from {@link Tracer.begin}) to now; no-op if `start < 0`. */
  end(name: string, cat: string, start: number, args?: Record<string, unknown>): void {
    if (start < 0 || !this.active) return;
    this.complete(name, cat, start, this.now() - start, args);
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
    const tid = this.#laneFor(ts, ts + dur);
    this.#push({ name, cat, ph: "X", ts, dur, pid: this.#pid, tid, ...(args ? { args } : {}) });
  }

  /** Records a counter (`ph:"C"`): each key of `values` is one series of the `name` track. */
  counter(name: string, values: Record<string, number>, ts: number = this.now()): void {
    if (!this.active) return;
    this.#push({ name, ph: "C", ts, pid: this.#pid, tid: COUNTER_TID, args: values });
  }

  /** Records a process-wide instant (`ph:"i"`) event, e.g. a configuration change. */
  instant(name: string, cat: string, args?: Record<string, unknown>): void {
    if (!this.active) return;
    this.#push({
      name,
      cat,
      ph: "i",
      s: "p",
      ts: this.now(),
      pid: this.#pid,
      tid: COUNTER_TID,
      ...(args ? { args } : {}),
    });
  }

  /**
   * Runs `fn` and, while a trace runs, records it as a complete event. A returned promise is
   * timed until it settles; a throw or rejection is recorded with `args.error` and passed on.
   * When no trace runs this is `fn()` after one boolean check.
   */
  span<T>(name: string, cat: string, fn: () => T, args?: Record<string, unknown>): T {
    if (!this.active) return fn();
    const start = this.now();
    let result: T;
    try {
      result = fn();
    } catch (error) {
      this.end(name, cat, start, { ...args, error: errorText(error) });
      throw error;
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => {
          this.end(name, cat, start, args);
          return value;
        },
        (error: unknown) => {
          this.end(name, cat, start, { ...args, error: errorText(error) });
          throw error;
        },
      ) as T;
    }
    this.end(name, cat, start, args);
    return result;
  }

  #push(event: TraceEvent): void {
    if (this.#events.length >= this.#maxEvents) {
      this.#dropped++;
      return;
    }
    this.#events.push(event);
  }

  /**
   * Picks the first lane where `[start, end]` overlaps nothing or nests cleanly (contains, or is
   * contained by, every interval it touches), and adds it there.
   */
  #laneFor(start: number, end: number): number {
    for (let i = 0; i < this.#lanes.length; i++) {
      if (tryPlace(this.#lanes[i], start, end)) return i + 1;
    }
    this.#lanes.push([{ start, end }]);
    return this.#lanes.length;
  }
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The path of a request URL, without parsing the whole URL; `/` when it has none. */
function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return "/";
  const end = url.slice(slash).search(/[?#]/);
  return end < 0 ? url.slice(slash) : url.slice(slash, slash + end);
}

/**
 * `handler`, recording each request while a trace runs as a complete event named
 * `"<METHOD> <path>"` in category `http` with `args` `{ method, path, status }` (or `error`);
 * paths longer than {@link TRACE_PATH_MAX} are cut, with `args.pathBytes` the full length. When
 * no trace runs a request costs one boolean check.
 */
export function traceRequests(
  tracer: Tracer,
  handler: (req: Request) => Response | Promise<Response>,
): (req: Request) => Response | Promise<Response> {
  return (req) => (tracer.active ? traced(tracer, req, handler) : handler(req));
}

function traced(
  tracer: Tracer,
  req: Request,
  handler: (req: Request) => Response | Promise<Response>,
): Response | Promise<Response> {
  const start = tracer.now();
  let path: string;
  try {
    path = pathOf(req.url);
  } catch {
    path = "(invalid URL)";
  }
  const args: Record<string, unknown> = { method: req.method };
  if (path.length > TRACE_PATH_MAX) {
    args.pathBytes = path.length;
    path = path.slice(0, TRACE_PATH_MAX) + "…";
  }
  args.path = path;
  const name = `${req.method} ${path}`;
  const record = (extra: Record<string, unknown>) =>
    tracer.end(name, "http", start, { ...args, ...extra });
  let result: Response | Promise<Response>;
  try {
    result = handler(req);
  } catch (error) {
    record({ error: errorText(error) });
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
      record({ error: errorText(error) });
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
    const args = { sequence: name, size: String(size) };
    const us = (ms: number) => ms * 1000;
    tracer.complete("block reservation", "allocator", us(started), us(installed - started), args);
    tracer.complete("store commit", "store", us(started), us(committed - started), args);
  };
}
