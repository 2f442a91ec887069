/**
 * The service's own timeline, recorded as Chrome trace events (the JSON object format that
 * Perfetto and `chrome://tracing` open). Deno's inspector has no V8 tracing domain, so this is
 * what `/debug/pprof/trace` serves instead of Go's execution trace.
 *
 * One module-level {@link tracer} records while a capture runs and costs one boolean check
 * otherwise. Instrument code in one of two ways:
 *
 * ```ts
 * // Wrap a unit of work (sync or async); when no trace runs this is a plain call of `fn`.
 * const block = await tracer.span("block reservation", "allocator", () => reserve(name), { name });
 *
 * // Or, on a hot path, without allocating a closure:
 * const t0 = tracer.begin(); // -1 when no trace runs
 * await store.commit(batch);
 * if (t0 >= 0) tracer.end("store commit", "store", t0, { rows: batch.length });
 * ```
 *
 * Request handling is wrapped with {@link traceRequest}. Complete events are placed on numbered
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
  /** Events kept at most; later ones are counted as dropped. Default 1,000,000. */
  maxEvents?: number;
  /** Process name written as metadata. Default `"sequencer"`. */
  processName?: string;
}

/** Lane id used for counters (event-loop delay, memory). */
export const COUNTER_TID = 0;

/** Top-level intervals of one lane, sorted by start, disjoint. */
type Lane = { start: number; end: number }[];

/**
 * Records trace events while a capture runs. Use the shared {@link tracer}; a second instance
 * is only useful in tests.
 */
export class Tracer {
  /** True while a capture runs. The one check a call site makes before recording anything. */
  active = false;
  #events: TraceEvent[] = [];
  #lanes: Lane[] = [];
  #dropped = 0;
  #maxEvents = 1_000_000;
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
    this.#maxEvents = options.maxEvents ?? 1_000_000;
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

/** The process-wide recorder the debug server's `/debug/pprof/trace` captures from. */
export const tracer: Tracer = new Tracer();

/** The path of a request URL, without parsing the whole URL. */
function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return "/";
  const end = url.slice(slash).search(/[?#]/);
  return end < 0 ? url.slice(slash) : url.slice(slash, slash + end);
}

/**
 * Handles `req` with `handler` and, while a trace runs, records the request as a complete event
 * named `"<METHOD> <path>"` in category `http` with `args` `{ method, path, status }` (or
 * `error`). When no trace runs this is `handler(req)` after one boolean check.
 *
 * ```ts
 * Deno.serve((req) => traceRequest(req, router));
 * ```
 */
export function traceRequest(
  req: Request,
  handler: (req: Request) => Response | Promise<Response>,
): Response | Promise<Response> {
  if (!tracer.active) return handler(req);
  const start = tracer.now();
  const path = pathOf(req.url);
  const name = `${req.method} ${path}`;
  const record = (extra: Record<string, unknown>) =>
    tracer.end(name, "http", start, { method: req.method, path, ...extra });
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
