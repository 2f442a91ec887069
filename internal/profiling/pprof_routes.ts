/**
 * `/debug/pprof/*` for the debug server: Go's net/http/pprof endpoints, backed by V8's profilers
 * through `node:inspector`, so `go tool pprof http://host:3001/debug/pprof/profile` keeps working.
 *
 * | endpoint | answer |
 * | --- | --- |
 * | `GET /debug/pprof/` | HTML index of the endpoints |
 * | `GET /debug/pprof/cmdline` | executable and arguments, NUL-separated |
 * | `GET /debug/pprof/profile?seconds=30` | CPU profile, gzipped pprof (`format=cpuprofile`: DevTools JSON) |
 * | `GET /debug/pprof/heap?seconds=5` | sampling heap profile, gzipped pprof (`format=heapprofile`: DevTools JSON) |
 * | `GET, POST /debug/pprof/symbol` | Go's symbol protocol (V8 profiles come symbolized) |
 * | `GET /debug/pprof/trace?seconds=1` | the service's timeline as Chrome trace-event JSON, at most `max_events` events (see trace.ts for the memory budget) |
 *
 * CPU time V8 cannot see: V8 samples JavaScript only and counts a thread running Deno's Rust code
 * (the HTTP engine, I/O, the event loop) as idle. The CPU profile measures each profiled thread's
 * CPU time and the process's over the window and adds the difference as frames
 * `(native: Deno runtime, HTTP, I/O)` under each thread and
 * `(native: other threads: store, V8 helpers, runtime pools)` at the top (pprof_convert.ts), so
 * its total is the process's CPU time over the window. The DevTools form has V8's samples only.
 *
 * Concurrency: the CPU profile and the trace share one busy flag (one of them at a time); the
 * heap profile has its own, since V8's sampling heap profiler is independent of the CPU
 * profiler. A request finding its flag taken gets `409`. A client that goes away
 * (`req.signal` aborted) ends its capture at once and frees the flag; it is answered `499`. A
 * shutdown ends every capture at once too; its client gets what was captured so far.
 *
 * Sizes: a trace keeps at most `max_events` events, within the memory budget trace.ts documents.
 * A profile is bounded by its window, whatever clients send: a CPU profile holds at most one
 * sample per thread per millisecond (300,000 over 300 s); a sampling heap profile one sample per
 * 32 KiB allocated on average (a 20 s flood of 60 KB URLs on one worker: 45,000 samples, a 1.9 MB
 * `heapprofile` answer), and its pprof form only one value per distinct stack.
 *
 * Needs `--allow-sys` (see inspector_capture.ts).
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { SequencerError } from "../domain/domain.ts";
import { choiceParam, integerParam } from "../http/params.ts";
import { jsonError } from "../http/respond.ts";
import { type Handler, type Route, searchParams } from "../http/router.ts";
import {
  captureCpuProfile,
  captureHeapProfile,
  type CaptureWindow,
  DEFAULT_CPU_SAMPLING_INTERVAL_MICROS,
  DEFAULT_HEAP_SAMPLING_INTERVAL_BYTES,
  processCpuMicros,
  waitOrAbort,
} from "./inspector_capture.ts";
import {
  cpuProfileToPprof,
  cpuProfileUrls,
  encodePprofGzip,
  heapProfileToPprof,
  heapProfileUrls,
  type V8CpuProfile,
  type V8HeapProfile,
} from "./pprof_convert.ts";
import {
  mergeCpuProfiles,
  mergeHeapProfiles,
  mergeTraces,
  type ThreadProfile,
  type ThreadTrace,
} from "./merge.ts";
import { loadLineMapper } from "./source_map.ts";
import {
  encodeTrace,
  TRACE_MAX_EVENTS,
  type TraceDocument,
  type Tracer,
  traceShare,
  type TraceStartOptions,
} from "./trace.ts";

/**
 * The other threads of the process (API workers), profiled alongside the main thread so that one
 * request shows the whole service. A thread that dies during a capture rejects it.
 */
export interface OtherThreads {
  /** Runs a CPU profile in every other thread over the window. */
  cpu(
    window: CaptureWindow & { samplingIntervalMicros: number },
  ): Promise<ThreadProfile<V8CpuProfile>[]>;
  /** Runs a sampling heap profile in every other thread over the window. */
  heap(
    window: CaptureWindow & { samplingIntervalBytes: number; includeCollected: boolean },
  ): Promise<ThreadProfile<V8HeapProfile>[]>;
  /**
   * How many threads there are, for splitting the trace budget. When it is not given the
   * profiler assumes one, and the merged answer is cut to the budget once they stop.
   */
  count?: number;
  /** Starts the tracer in every other thread, each keeping at most `options.maxEvents`. */
  traceStart(options?: TraceStartOptions): void;
  /** Stops it and returns each thread's document with its clock shift to the main thread. */
  traceStop(): Promise<ThreadTrace[]>;
}

/** Options of {@link createProfiler}. */
export interface ProfilingOptions {
  /** The command line `/debug/pprof/cmdline` reports (see `commandLine`). */
  cmdline: string[];
  /** This thread's tracer. */
  tracer: Tracer;
  /** Logs captures and failures; silent when absent. */
  logger?: Logger;
  /** The API worker threads, once they run. */
  threads?: () => OtherThreads | undefined;
}

/** The profiling endpoints and their state. */
export interface Profiler {
  /** The `/debug/pprof/*` routes. */
  routes: Route[];
  /** What holds the CPU flag (`CPU profile`, `trace`), or `undefined`; and whether a heap profile runs. */
  busy(): { cpu: string | undefined; heap: boolean };
  /**
   * Ends every running capture now (shutdown): its client gets what was captured so far, and
   * no new capture starts.
   */
  stop(): void;
}

/** `seconds` of `/debug/pprof/profile`: default 30 (Go's), 1–300. */
export const PROFILE_SECONDS = { name: "seconds", defaultValue: 30, min: 1, max: 300 };
/**
 * `seconds` of `/debug/pprof/heap`: default 5, 1–300. The sampling heap profiler only sees
 * allocations made while it runs, so unlike Go's instant heap profile this one needs a window;
 * 5 s is long enough to cover many requests and short enough for pprof's fetch timeout.
 * `kind=alloc` (default) keeps every sampled allocation of the window (Go's `alloc_space` view);
 * `kind=inuse` only those still live at its end (Go's `inuse_space`, limited to the window).
 */
export const HEAP_SECONDS = { name: "seconds", defaultValue: 5, min: 1, max: 300 };
/** `seconds` of `/debug/pprof/trace`: default 1 (Go's), 1–300. */
export const TRACE_SECONDS = { name: "seconds", defaultValue: 1, min: 1, max: 300 };
/**
 * `max_events` of `/debug/pprof/trace`: the most events the trace keeps, default and at most
 * {@link TRACE_MAX_EVENTS} (the process's budget); a smaller trace costs the service less memory
 * and opens faster. At least 1,000, so that every thread's share is at least one event.
 */
export const TRACE_EVENTS = {
  name: "max_events",
  defaultValue: TRACE_MAX_EVENTS,
  min: 1_000,
  max: TRACE_MAX_EVENTS,
};

/** Milliseconds between event-loop delay samples during a trace. */
export const TRACE_LOOP_SAMPLE_MS = 10;

const NOSNIFF = { "x-content-type-options": "nosniff" };
const TEXT = { "content-type": "text/plain; charset=utf-8", ...NOSNIFF };

function attachment(filename: string, contentType: string): Record<string, string> {
  return {
    "content-type": contentType,
    "content-disposition": `attachment; filename="${filename}"`,
    ...NOSNIFF,
  };
}

function busy(want: string, holder: string): SequencerError {
  return new SequencerError(
    "conflict",
    `a ${holder} is already running; only one CPU profile or trace runs at a time, ` +
      `so this ${want} was not started`,
  );
}

function clientClosed(what: string, elapsedMs: number): Response {
  return jsonError(
    "client_closed",
    `the client closed the request; the ${what} was stopped after ${Math.round(elapsedMs)} ms`,
  );
}

/**
 * Answers an inspector failure: a missing `--allow-sys` becomes a `500` that says so; anything
 * else is rethrown for the router.
 */
function inspectorFailure(error: unknown, what: string, logger?: Logger): Response {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    logger?.error("profiling needs --allow-sys", { what, error });
    return jsonError(
      "internal",
      `the ${what} needs the V8 inspector, which this process may not use: run it with --allow-sys`,
    );
  }
  throw error;
}

/**
 * The profiling endpoints: Go's `/debug/pprof/*`, backed by V8. Each route's `summary` is the
 * one-line description the index page shows.
 */
export function createProfiler(options: ProfilingOptions): Profiler {
  const { logger, tracer } = options;
  /** What holds the CPU flag: a CPU profile or a trace, or nothing. */
  let cpuHolder: string | undefined;
  let heapBusy = false;
  const stopping = new AbortController();

  /** Ends when the client goes away or the service stops; says which. */
  const windowSignal = (req: Request) => AbortSignal.any([req.signal, stopping.signal]);
  const clientGone = (req: Request) => req.signal.aborted && !stopping.signal.aborted;
  const refuseWhenStopping = () => {
    if (stopping.signal.aborted) {
      throw new SequencerError(
        "unavailable",
        "the service is shutting down: no new capture starts",
      );
    }
  };

  const cmdline: Handler = () => new Response(options.cmdline.join("\0"), { headers: TEXT });

  const profile: Handler = async (req, ctx) => {
    const params = searchParams(ctx);
    const duration = integerParam(params, PROFILE_SECONDS);
    const format = choiceParam(params, "format", ["pprof", "cpuprofile"] as const);
    refuseWhenStopping();
    if (cpuHolder !== undefined) throw busy("CPU profile", cpuHolder);
    cpuHolder = "CPU profile";
    let captured;
    try {
      logger?.info("cpu profile started", { seconds: duration, format });
      const window = {
        durationMs: duration * 1000,
        signal: windowSignal(req),
        samplingIntervalMicros: DEFAULT_CPU_SAMPLING_INTERVAL_MICROS,
      };
      const cpu0 = processCpuMicros();
      const [main, others] = await Promise.all([
        captureCpuProfile(window),
        options.threads?.()?.cpu(window) ?? [],
      ]);
      const parts = [{ thread: "main", profile: main.profile }, ...others];
      captured = {
        ...main,
        profile: mergeCpuProfiles(parts),
        native: {
          processMicros: processCpuMicros() - cpu0,
          threads: parts.map((p) => ({ thread: p.thread, cpuMicros: p.profile.threadCpuMicros })),
        },
      };
    } catch (error) {
      return inspectorFailure(error, "CPU profile", logger);
    } finally {
      cpuHolder = undefined;
    }
    const samples = captured.profile.samples?.length ?? 0;
    logger?.info("cpu profile finished", {
      elapsedMs: Math.round(captured.elapsedMs),
      samples,
      aborted: captured.aborted,
    });
    if (clientGone(req)) return clientClosed("CPU profile", captured.elapsedMs);
    if (format === "cpuprofile") {
      return new Response(JSON.stringify(captured.profile), {
        headers: attachment("profile.cpuprofile", "application/json"),
      });
    }
    const pprof = cpuProfileToPprof(captured.profile, {
      timeNanos: BigInt(captured.startedAtMs) * 1_000_000n,
      samplingIntervalMicros: DEFAULT_CPU_SAMPLING_INTERVAL_MICROS,
      mapLine: await loadLineMapper(cpuProfileUrls(captured.profile)),
      native: captured.native,
      comments: [
        `V8 CPU profile of Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ` +
        `${samples} samples at ${DEFAULT_CPU_SAMPLING_INTERVAL_MICROS} us`,
      ],
    });
    return new Response(await encodePprofGzip(pprof), {
      headers: attachment("profile.pb.gz", "application/octet-stream"),
    });
  };

  const heap: Handler = async (req, ctx) => {
    const params = searchParams(ctx);
    const duration = integerParam(params, HEAP_SECONDS);
    const format = choiceParam(params, "format", ["pprof", "heapprofile"] as const);
    const kind = choiceParam(params, "kind", ["alloc", "inuse"] as const);
    refuseWhenStopping();
    if (heapBusy) {
      throw new SequencerError(
        "conflict",
        "a heap profile is already running; only one runs at a time",
      );
    }
    heapBusy = true;
    let captured;
    try {
      logger?.info("heap profile started", { seconds: duration, kind });
      const window = {
        durationMs: duration * 1000,
        signal: windowSignal(req),
        samplingIntervalBytes: DEFAULT_HEAP_SAMPLING_INTERVAL_BYTES,
        includeCollected: kind === "alloc",
      };
      const [main, others] = await Promise.all([
        captureHeapProfile(window),
        options.threads?.()?.heap(window) ?? [],
      ]);
      captured = {
        ...main,
        profile: mergeHeapProfiles([{ thread: "main", profile: main.profile }, ...others]),
      };
    } catch (error) {
      return inspectorFailure(error, "heap profile", logger);
    } finally {
      heapBusy = false;
    }
    logger?.info("heap profile finished", {
      elapsedMs: Math.round(captured.elapsedMs),
      aborted: captured.aborted,
    });
    if (clientGone(req)) return clientClosed("heap profile", captured.elapsedMs);
    if (format === "heapprofile") {
      return new Response(JSON.stringify(captured.profile), {
        headers: attachment("heap.heapprofile", "application/json"),
      });
    }
    const what = kind === "alloc"
      ? "every sampled allocation made during the window, collected or not"
      : "sampled allocations made during the window and still live at its end";
    const pprof = heapProfileToPprof(captured.profile, {
      timeNanos: BigInt(captured.startedAtMs) * 1_000_000n,
      durationNanos: BigInt(Math.round(captured.elapsedMs * 1e6)),
      samplingIntervalBytes: DEFAULT_HEAP_SAMPLING_INTERVAL_BYTES,
      mapLine: await loadLineMapper(heapProfileUrls(captured.profile)),
      comments: [
        `V8 sampling heap profile (kind=${kind}: ${what}) over ${duration} s, ` +
        `one sample per ${DEFAULT_HEAP_SAMPLING_INTERVAL_BYTES} bytes on average`,
      ],
    });
    return new Response(await encodePprofGzip(pprof), {
      headers: attachment("heap.pb.gz", "application/octet-stream"),
    });
  };

  // Go's protocol: GET answers `num_symbols: N` (pprof only checks N > 0); GET with a query or
  // POST with a body of `+`-separated addresses answers one `0x<addr> <name>` line per address
  // it resolves and leaves out the others, exactly as Go does for an address it cannot resolve.
  // V8 profiles carry function names already and this server has no address table, so no
  // address ever resolves: every answer is the header line alone. `pprof` does not call this
  // endpoint for our profiles anyway, since their mapping says they are symbolized.
  const symbol: Handler = async (req) => {
    if (req.method === "POST") await req.body?.cancel();
    return new Response("num_symbols: 1\n", { headers: TEXT });
  };

  const trace: Handler = async (req, ctx) => {
    const params = searchParams(ctx);
    const duration = integerParam(params, TRACE_SECONDS);
    const budget = integerParam(params, TRACE_EVENTS);
    refuseWhenStopping();
    if (cpuHolder !== undefined) throw busy("trace", cpuHolder);
    cpuHolder = "trace";
    let doc;
    let aborted = false;
    const t0 = performance.now();
    try {
      logger?.info("trace started", { seconds: duration, maxEvents: budget });
      const others = options.threads?.();
      // The budget, split evenly; mergeTraces cuts every thread to its share again.
      const share = traceShare(others === undefined ? 1 : 1 + (others.count ?? 1), budget);
      tracer.start({ maxEvents: share });
      others?.traceStart({ maxEvents: share });
      const sampler = sampleEventLoop(tracer);
      let stopped: Promise<TraceDocument> | undefined;
      // Synchronous up to the other threads' traceStop calls: run from the abort event, those
      // calls are sent before anything the shutdown sends them next (their drain and end), so
      // each thread answers with its events before it is gone.
      const stop = () =>
        stopped ??= (() => {
          sampler.stop();
          const main = tracer.stop();
          return (others?.traceStop() ?? Promise.resolve([])).then((rest) =>
            mergeTraces(main, rest, { maxEvents: budget })
          );
        })();
      const signal = windowSignal(req);
      signal.addEventListener("abort", stop, { once: true });
      try {
        aborted = await waitOrAbort(duration * 1000, signal);
      } finally {
        signal.removeEventListener("abort", stop);
        doc = await stop();
      }
    } finally {
      cpuHolder = undefined;
    }
    const elapsedMs = performance.now() - t0;
    logger?.info("trace finished", {
      elapsedMs: Math.round(elapsedMs),
      events: doc.otherData.recordedEvents,
      dropped: doc.otherData.droppedEvents,
      aborted,
    });
    if (clientGone(req)) return clientClosed("trace", elapsedMs);
    return new Response(encodeTrace(doc), {
      headers: attachment("trace.json", "application/json"),
    });
  };

  const routes: Route[] = [
    {
      method: "GET",
      path: "/debug/pprof/cmdline",
      access: "admin",
      handler: cmdline,
      summary: "The running program's command line, with arguments separated by NUL bytes.",
    },
    {
      method: "GET",
      path: "/debug/pprof/profile",
      access: "admin",
      handler: profile,
      summary: "CPU profile (V8 Profiler) over ?seconds=N (default 30, 1-300), as gzipped pprof; " +
        "&format=cpuprofile gives the .cpuprofile JSON for Chrome DevTools.",
    },
    {
      method: "GET",
      path: "/debug/pprof/heap",
      access: "admin",
      handler: heap,
      summary:
        "Sampling heap profile of the allocations made over ?seconds=N (default 5, 1-300); " +
        "&kind=inuse keeps only those still live at its end. Gzipped pprof; " +
        "&format=heapprofile gives the .heapprofile JSON for Chrome DevTools.",
    },
    {
      method: "GET",
      path: "/debug/pprof/symbol",
      access: "admin",
      handler: symbol,
      summary:
        "Go's symbol lookup protocol; V8 profiles arrive symbolized, so no address resolves.",
    },
    { method: "POST", path: "/debug/pprof/symbol", access: "admin", handler: symbol },
    {
      method: "GET",
      path: "/debug/pprof/trace",
      access: "admin",
      handler: trace,
      summary: "The service's timeline over ?seconds=N (default 1, 1-300): requests, block " +
        "reservations, store commits and event-loop delay, as Chrome trace-event JSON. At most " +
        `&max_events=N events (default and limit ${TRACE_MAX_EVENTS.toLocaleString("en-US")}); ` +
        "otherData.droppedEvents counts the rest.",
    },
  ];
  const index: Route = {
    method: "GET",
    path: "/debug/pprof/",
    access: "admin",
    handler: (req) =>
      new Response(indexPage(routes, new URL(req.url).host), {
        headers: { "content-type": "text/html; charset=utf-8", ...NOSNIFF },
      }),
    summary: "This page.",
  };
  return {
    routes: [index, ...routes],
    busy: () => ({ cpu: cpuHolder, heap: heapBusy }),
    stop: () => stopping.abort(),
  };
}

/** Samples event-loop delay (and memory, every tenth sample) as trace counters. */
function sampleEventLoop(tracer: Tracer): { stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticks = 0;
  const schedule = () => {
    const expected = performance.now() + TRACE_LOOP_SAMPLE_MS;
    timer = setTimeout(() => {
      const now = performance.now();
      tracer.counter("event loop delay (ms)", { delay: Math.max(0, now - expected) }, now * 1000);
      if (++ticks % 10 === 0) {
        const m = Deno.memoryUsage();
        tracer.counter("memory (bytes)", {
          heapUsed: m.heapUsed,
          heapTotal: m.heapTotal,
          external: m.external,
          rss: m.rss,
        });
      }
      schedule();
    }, TRACE_LOOP_SAMPLE_MS);
  };
  schedule();
  return { stop: () => clearTimeout(timer) };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Example links: the query that makes each endpoint useful straight from a browser. */
const EXAMPLE_QUERY: Record<string, string> = {
  "/debug/pprof/profile": "?seconds=30",
  "/debug/pprof/heap": "?seconds=5",
  "/debug/pprof/trace": "?seconds=1",
};

function indexPage(routes: readonly Route[], host: string): string {
  const rows = routes.filter((r) => r.summary !== undefined).map((r) => {
    const name = r.path.slice("/debug/pprof/".length);
    const href = name + (EXAMPLE_QUERY[r.path] ?? "");
    const methods = routes.filter((o) => o.path === r.path).map((o) => o.method).join(", ");
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(name)}</a></td>` +
      `<td>${escapeHtml(methods)}</td><td>${escapeHtml(r.summary!)}</td></tr>`;
  });
  const base = `http://${host}/debug/pprof`;
  const commands = [
    `go tool pprof ${base}/profile?seconds=10`,
    `go tool pprof -http=: ${base}/heap?seconds=5`,
    `curl -o profile.cpuprofile '${base}/profile?seconds=10&format=cpuprofile'   # Chrome DevTools > Performance > Load profile`,
    `curl -o trace.json '${base}/trace?seconds=5'   # open in https://ui.perfetto.dev or chrome://tracing`,
  ];
  return `<!DOCTYPE html>
<html>
<head>
<title>/debug/pprof/</title>
<style>
body { font-family: sans-serif; }
td { padding: 0.2em 1em 0.2em 0; vertical-align: top; }
pre { background: #f4f4f4; padding: 0.5em; }
</style>
</head>
<body>
<h1>/debug/pprof/</h1>
<p>V8 profiles of this Deno ${escapeHtml(Deno.version.deno)} process (V8 ${
    escapeHtml(Deno.version.v8)
  }). Only one CPU profile or trace runs at a time.</p>
<table>
<thead><tr><th align="left">Endpoint</th><th align="left">Methods</th><th align="left">Description</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody>
</table>
<h2>Viewing</h2>
<pre>${commands.map(escapeHtml).join("\n")}</pre>
</body>
</html>
`;
}
