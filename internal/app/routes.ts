/**
 * The route lists of both servers, composed in one place.
 *
 * @module
 */
import { type ApiLimits, withApiLimits } from "../limits/api_limits.ts";
import type { Sequences } from "../domain/domain.ts";
import { type HealthOptions, healthRoutes } from "../handlers/health/health.ts";
import { type V1Options, v1Routes } from "../handlers/v1/v1.ts";
import type { Route } from "../http/router.ts";
import { type MetricsOptions, metricsRoutes } from "../metrics/metrics.ts";
import { createProfiler, type Profiler, type ProfilingOptions } from "../profiling/pprof_routes.ts";
import { withRouteSpans } from "../telemetry/spans.ts";

/** The API server's routes (naming their request spans when OpenTelemetry is on). */
export function apiRoutes(
  sequences: Sequences,
  options: V1Options & { rates?: ApiLimits },
): Route[] {
  const routes = v1Routes(sequences, options);
  return withRouteSpans(
    options.rates === undefined ? routes : withApiLimits(routes, options.rates),
  );
}

/** The debug server's routes (health, metrics, profiling) and the profiler behind them. */
export function debugRoutes(
  options: { health: HealthOptions; metrics: MetricsOptions; profiling: ProfilingOptions },
): { routes: Route[]; profiler: Profiler } {
  const profiler = createProfiler(options.profiling);
  return {
    routes: withRouteSpans([
      ...healthRoutes(options.health),
      ...metricsRoutes(options.metrics),
      ...profiler.routes,
    ]),
    profiler,
  };
}
