/**
 * The service's spans on top of Deno's: `http.route` on request spans, and block reservations
 * with their store commits. See otel.ts for when they are exported.
 *
 * @module
 */
import { context, SpanKind, trace } from "@opentelemetry/api";
import type { Route } from "../http/router.ts";
import { type ReserveHook, SCOPE, tracingEnabled } from "./otel.ts";

/** Longest sequence name the domain allows; a span attribute never holds more. */
const SEQUENCE_NAME_MAX = 64;

/** Options of {@link withRouteSpans}. */
export interface RouteSpanOptions {
  /** Whether spans are exported (default: {@link tracingEnabled}). */
  enabled?: boolean;
}

/**
 * `routes`, each handler first naming the request span Deno opened for it: attribute
 * `http.route` (the route's path, e.g. `/v1/sequence/:name`) and the name `<METHOD> <route>`,
 * as the HTTP semantic conventions want. Deno copies `http.route` onto its
 * `http.server.request.duration` metric too. Requests no route matched (404, 405) keep Deno's
 * name, the method. When spans are not exported the routes are returned as they are, so the
 * request path is unchanged.
 */
export function withRouteSpans(routes: Route[], options: RouteSpanOptions = {}): Route[] {
  if (!(options.enabled ?? tracingEnabled())) return routes;
  return routes.map((route) => {
    const { handler, path } = route;
    const name = `${route.method} ${path}`;
    return {
      ...route,
      handler: (req, ctx) => {
        const span = trace.getActiveSpan();
        if (span !== undefined) {
          span.setAttribute("http.route", path);
          span.updateName(name);
        }
        return handler(req, ctx);
      },
    };
  });
}

/** Options of {@link reservationSpans}. */
export interface ReservationSpanOptions {
  /** The store, as `db.system.name` of the commit spans: `sqlite` or `postgresql`. */
  store: string;
  /** Whether spans are exported (default: {@link tracingEnabled}). */
  enabled?: boolean;
}

/**
 * The owner's `onReserve` hook that exports each committed block as a span `block reservation`
 * (from the reservation's start until the block is live in the shared table) with a child span
 * `store commit` (until the store answered). Both carry `sequencer.sequence` and
 * `sequencer.block.size`; the commit also `db.system.name`. Reservations run in the background,
 * ahead of need, so they are root spans of their own traces, not children of a request.
 * `undefined` when spans are not exported.
 */
export function reservationSpans(options: ReservationSpanOptions): ReserveHook | undefined {
  if (!(options.enabled ?? tracingEnabled())) return undefined;
  const tracer = trace.getTracer(SCOPE);
  const origin = performance.timeOrigin;
  const dbSystem = options.store === "postgres" ? "postgresql" : options.store;
  return (name, size, startedMs, committedMs, installedMs) => {
    const attributes = {
      "sequencer.sequence": name.slice(0, SEQUENCE_NAME_MAX),
      "sequencer.block.size": Number(size),
    };
    const startTime = origin + startedMs;
    const block = tracer.startSpan("block reservation", {
      root: true,
      kind: SpanKind.INTERNAL,
      startTime,
      attributes,
    });
    const parent = trace.setSpan(context.active(), block);
    tracer.startSpan("store commit", {
      kind: SpanKind.CLIENT,
      startTime,
      attributes: { ...attributes, "db.system.name": dbSystem },
    }, parent).end(origin + committedMs);
    block.end(origin + installedMs);
  };
}
