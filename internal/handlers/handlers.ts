/**
 * The two muxes: the API server's routes and the debug server's routes, each turned into one
 * request handler by the router.
 *
 * @module
 */
import type { SequenceService } from "../atomicSequence/sequences.ts";
import type { Logger } from "../log/log.ts";
import { type MetricsOptions, metricsRoutes } from "../metrics/metrics.ts";
import { type ProfilingOptions, profilingRoutes } from "../profiling/pprof_routes.ts";
import { type HealthOptions, healthRoutes } from "./health/health.ts";
import { createRouter, type RequestHandler, type Route } from "./router.ts";
import { type V1Options, v1Routes } from "./v1/v1.ts";

/** The API server's routes. */
export function apiRoutes(service: SequenceService, options: V1Options): Route[] {
  return v1Routes(service, options);
}

/** The API server's request handler. */
export function apiHandler(
  service: SequenceService,
  options: V1Options,
  logger?: Logger,
): RequestHandler {
  return createRouter(apiRoutes(service, options), logger);
}

/** The debug server's routes: health, metrics and profiling. */
export function debugRoutes(
  health: HealthOptions,
  metrics: MetricsOptions,
  profiling: ProfilingOptions,
): Route[] {
  return [...healthRoutes(health), ...metricsRoutes(metrics), ...profilingRoutes(profiling)];
}
