/**
 * A real OTLP/HTTP receiver for tests: a server on a free loopback port that records what an
 * exporter posts to `/v1/traces`, `/v1/metrics` and `/v1/logs` in OTLP's JSON encoding
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), and answers as a collector does. Helpers flatten
 * the requests into spans and metric data points.
 *
 * @module
 */

/** An OTLP `AnyValue` in JSON. */
export interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}

/** An OTLP attribute list in JSON. */
export type OtlpAttributes = { key: string; value: OtlpValue }[];

/** One span as the JSON encoding carries it. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpAttributes;
}

/** One metric data point, with its metric's name and kind. */
export interface OtlpPoint {
  /** The metric's name. */
  metric: string;
  /** `sum`, `gauge` or `histogram`. */
  kind: string;
  /** The instrumentation scope. */
  scope: string;
  attributes?: OtlpAttributes;
  asDouble?: number;
  asInt?: string | number;
  count?: string | number;
  sum?: number;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint: string;
  /** Every span received so far. */
  spans(): OtlpSpan[];
  /** Every metric data point received so far. */
  points(): OtlpPoint[];
  /** Requests received, by path. */
  requests(): Map<string, number>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** The value of attribute `key`, as a string (numbers too); `undefined` when absent. */
export function attribute(
  attributes: OtlpAttributes | undefined,
  key: string,
): string | undefined {
  const value = attributes?.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  const raw = value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue;
  return raw === undefined ? undefined : String(raw);
}

/** Starts a receiver on a free port of 127.0.0.1. */
export function startOtlpReceiver(): OtlpReceiver {
  const bodies: { path: string; body: Record<string, unknown> }[] = [];
  const counts = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const text = await req.text();
    if (req.method !== "POST" || !req.headers.get("content-type")?.includes("json")) {
      return Response.json({ error: "send OTLP JSON with POST" }, { status: 415 });
    }
    bodies.push({ path, body: JSON.parse(text) });
    // OTLP/HTTP's success answer: an empty Export*ServiceResponse.
    return Response.json({});
  });
  const of = (path: string) => bodies.filter((b) => b.path === path).map((b) => b.body);
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans: () =>
      of("/v1/traces").flatMap((body) =>
        (body.resourceSpans as { scopeSpans: { spans: OtlpSpan[] }[] }[]).flatMap((r) =>
          r.scopeSpans.flatMap((s) => s.spans)
        )
      ),
    points: () =>
      of("/v1/metrics").flatMap((body) =>
        (body.resourceMetrics as {
          scopeMetrics: {
            scope: { name: string };
            metrics: ({ name: string } & Record<string, { dataPoints?: OtlpPoint[] }>)[];
          }[];
        }[]).flatMap((r) =>
          r.scopeMetrics.flatMap((s) =>
            s.metrics.flatMap((m) => {
              const kind = ["sum", "gauge", "histogram"].find((k) => k in m) ?? "unknown";
              return (m[kind]?.dataPoints ?? []).map((point) => ({
                ...point,
                metric: m.name,
                kind,
                scope: s.scope.name,
              }));
            })
          )
        )
      ),
    requests: () => new Map(counts),
    close: () => server.shutdown(),
  };
}

/**
 * Polls `find` every 50 ms until it returns something other than `undefined`, and returns it;
 * fails after a generous `timeoutMs` with `what` and, when given, what was there instead.
 */
export async function waitFor<T>(
  what: string,
  find: () => T | undefined,
  options: { timeoutMs?: number; seen?: () => unknown } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (performance.now() > deadline) {
      const seen = options.seen === undefined ? "" : `; seen: ${JSON.stringify(options.seen())}`;
      throw new Error(`${what}: not there after ${timeoutMs} ms${seen}`.slice(0, 4000));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
