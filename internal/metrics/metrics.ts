/**
 * `GET /debug/metrics`: the service's counters in the Prometheus text format (0.0.4), on the
 * debug port. Everything is read when scraped, from the shared block table and the owner: the
 * request path does no extra work for metrics, and numbers handed out by every API thread are
 * counted because they are taken from the same shared memory.
 *
 * @module
 */
import type { OwnerStats, SequenceStats } from "../atomicSequence/owner.ts";
import type { Route } from "../http/router.ts";
import { type HistogramSnapshot, renderHistogram } from "./store_latency.ts";

/** The API listeners' connections, summed over its threads. */
export interface HttpStats {
  /** API listener threads configured, and how many accept connections now. */
  workers: number;
  listening: number;
  /** Connections open now, and requests being handled. */
  open: number;
  inFlight: number;
  /** Connections closed at once because the cap was reached. */
  refused: number;
  /** Connections closed for a header or idle time limit. */
  timedOut: number;
  /** Failed accepts (for example out of file descriptors). */
  acceptErrors: number;
}

/** What one scrape shows. */
export interface MetricsView {
  /** The owner's view, or `undefined` while the service is still starting. */
  stats: OwnerStats | undefined;
  /** True when readiness answers 200. */
  ready: boolean;
  /** The API's connections, or `undefined` while it starts. */
  http: HttpStats | undefined;
  /** Store commit durations, or `undefined` while the service starts. */
  commits?: HistogramSnapshot;
}

/** Options of {@link metricsRoutes}. */
export interface MetricsOptions {
  /** The owner's view, or `undefined` while the service is still starting. */
  stats: () => OwnerStats | undefined;
  /** The API's connections (asked of every API thread), or `undefined` while it starts. */
  http?: () => Promise<HttpStats | undefined>;
  /** True when readiness answers 200. */
  ready: () => boolean;
  /** Store commit durations (see store_latency.ts), or `undefined` while the service starts. */
  commits?: () => HistogramSnapshot | undefined;
  /** Constant labels of `sequencer_build_info`. */
  build: { environment: string; store: string; workers: number };
  /** When the process started (ms since the epoch). */
  startedAt: number;
}

/** The content type of the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A label value in the text format: backslash, double quote and newline escaped. */
export function labelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function family(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: [labels: string, value: bigint | number][],
): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  return lines.join("\n");
}

/** The per-sequence families: name, type, help, and the value of one sequence. */
const PER_SEQUENCE: [
  string,
  "counter" | "gauge",
  string,
  (s: SequenceStats) => bigint | number | undefined,
][] = [
  [
    "sequencer_numbers_total",
    "counter",
    "Numbers handed out by this process since it started, by sequence (a batch of N counts N).",
    (s) => s.numbers,
  ],
  [
    "sequencer_last_number",
    "gauge",
    "The last number this process handed out, by sequence.",
    (s) => s.lastNumber,
  ],
  [
    "sequencer_blocks_reserved_total",
    "counter",
    "Blocks committed to the store by this process, by sequence.",
    (s) => s.blocks,
  ],
  [
    "sequencer_block_reservation_failures_total",
    "counter",
    "Block reservations the store failed, by sequence; requests that needed the block got 503.",
    (s) => s.failures,
  ],
  [
    "sequencer_block_size",
    "gauge",
    "Size of the next block, by sequence; it adapts to the rate within the configured bounds.",
    (s) => s.blockSize,
  ],
];

/** The API's connection families; none while it starts. */
function httpFamilies(http: HttpStats | undefined): string[] {
  if (http === undefined) return [];
  const one = (
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: number,
  ) => family(name, type, help, [["", value]]);
  return [
    one("sequencer_api_workers", "gauge", "API listener threads configured.", http.workers),
    one(
      "sequencer_api_workers_listening",
      "gauge",
      "API listener threads accepting connections now.",
      http.listening,
    ),
    one("sequencer_http_connections", "gauge", "API connections open now.", http.open),
    one(
      "sequencer_http_requests_in_flight",
      "gauge",
      "API requests being handled now.",
      http.inFlight,
    ),
    one(
      "sequencer_http_connections_refused_total",
      "counter",
      "API connections closed at once because HTTP_MAX_CONNECTIONS was reached.",
      http.refused,
    ),
    one(
      "sequencer_http_connections_timed_out_total",
      "counter",
      "API connections closed by the header or idle time limit.",
      http.timedOut,
    ),
    one(
      "sequencer_http_accept_errors_total",
      "counter",
      "Failed accepts of API connections (for example out of file descriptors).",
      http.acceptErrors,
    ),
  ];
}

/** The exposition text of one scrape. Pure: bigints are written as exact digits. */
export function renderMetrics(
  view: MetricsView,
  options: Pick<MetricsOptions, "build" | "startedAt">,
): string {
  const { stats: snapshot, ready } = view;
  const bySequence = (
    pick: (s: SequenceStats) => bigint | number | undefined,
  ): [string, bigint | number][] =>
    (snapshot?.sequences ?? []).flatMap((s) => {
      const value = pick(s);
      return value === undefined ? [] : [[`{sequence="${labelValue(s.name)}"}`, value]];
    });
  const { environment, store, workers } = options.build;
  const families = [
    ...PER_SEQUENCE.map(([name, type, help, pick]) => family(name, type, help, bySequence(pick))),
    ...httpFamilies(view.http),
    ...(view.commits === undefined ? [] : [
      renderHistogram(view.commits, {
        name: "sequencer_store_commit_duration_seconds",
        help: "Time the store took to commit a block, from the reservation to its answer.",
      }),
    ]),
    family(
      "sequencer_period_info",
      "gauge",
      "Always 1: the current period of each sequence with periods, by this process's clock.",
      (snapshot?.periods ?? []).map(({ sequence, period }) => [
        `{sequence="${labelValue(sequence)}",period="${labelValue(period)}"}`,
        1,
      ]),
    ),
    ...(snapshot?.storeClockOffsetMs === undefined ? [] : [
      family(
        "sequencer_store_clock_offset_seconds",
        "gauge",
        "The store's clock minus this process's clock (PostgreSQL's clock_timestamp() read with " +
          "the readiness ping, less half the round trip). Periods are decided by this process's " +
          "clock.",
        [["", snapshot.storeClockOffsetMs / 1000]],
      ),
    ]),
    family("sequencer_ready", "gauge", "1 when readiness answers 200.", [["", ready ? 1 : 0]]),
    family("sequencer_store_up", "gauge", "1 while the store answers.", [
      ["", snapshot?.storeUp ? 1 : 0],
    ]),
    family(
      "sequencer_build_info",
      "gauge",
      "Always 1; the labels describe the process.",
      [[
        `{environment="${labelValue(environment)}",store="${
          labelValue(store)
        }",workers="${workers}",deno="${labelValue(Deno.version.deno)}"}`,
        1,
      ]],
    ),
    family(
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since the Unix epoch, in seconds.",
      [["", Math.floor(options.startedAt / 1000)]],
    ),
  ];
  return families.join("\n") + "\n";
}

/** `GET /debug/metrics`. */
export function metricsRoutes(options: MetricsOptions): Route[] {
  return [{
    method: "GET",
    path: "/debug/metrics",
    access: "open",
    summary: "counters in the Prometheus text format",
    handler: async () => {
      const http = await options.http?.();
      const view = {
        stats: options.stats(),
        ready: options.ready(),
        http,
        commits: options.commits?.(),
      };
      return new Response(renderMetrics(view, options), {
        headers: { "content-type": METRICS_CONTENT_TYPE, "cache-control": "no-store" },
      });
    },
  }];
}
