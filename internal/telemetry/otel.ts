/**
 * OpenTelemetry through Deno's built-in support. With `OTEL_DENO=true` in its environment, Deno
 * exports over OTLP by itself: a span per HTTP request (for our own accept loop too, since
 * `serveHttpOnConnection` runs the same engine as `Deno.serve`), the `http.server.*` metrics, V8's
 * memory and GC metrics, and the log lines. It also backs `npm:@opentelemetry/api`, through which
 * this folder adds the service's own work:
 *
 * - `http.route` on each request span, whose name becomes `<METHOD> <route>` (spans.ts);
 * - a `block reservation` span per block, with its `store commit` child (spans.ts);
 * - the sequence counters, readiness, the store's state and a histogram of store commit times as
 *   metrics (instruments.ts).
 *
 * Without `OTEL_DENO` the API's tracer and meter are its no-op ones: nothing here is installed,
 * so a request costs exactly what it costs without this folder (no branch is added).
 *
 * @module
 */
import { createNoopMeter, metrics, ProxyTracer, trace } from "@opentelemetry/api";
import type { ReserveHook } from "../atomicSequence/owner.ts";

export type { ReserveHook };

/** The instrumentation scope of the service's own spans and metrics. */
export const SCOPE = "sequencer";

/**
 * True when spans are exported: Deno registered its tracer provider with the API (`OTEL_DENO`),
 * so the API's tracer is not its own proxy that drops everything.
 */
export function tracingEnabled(): boolean {
  return !(trace.getTracer(SCOPE) instanceof ProxyTracer);
}

/** True when metrics are exported: the API's meter is not its no-op one. */
export function metricsEnabled(): boolean {
  return metrics.getMeter(SCOPE) !== createNoopMeter();
}

/**
 * One hook calling each of `hooks` that is defined, in order; `undefined` when none is, so an
 * owner without observers calls nothing.
 */
export function everyHook(...hooks: (ReserveHook | undefined)[]): ReserveHook | undefined {
  const defined = hooks.filter((hook): hook is ReserveHook => hook !== undefined);
  if (defined.length === 0) return undefined;
  if (defined.length === 1) return defined[0];
  return (name, size, startedMs, committedMs, installedMs) => {
    for (const hook of defined) hook(name, size, startedMs, committedMs, installedMs);
  };
}
