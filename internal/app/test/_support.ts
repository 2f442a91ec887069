/**
 * Helpers shared by the tests of this folder.
 *
 * @module
 */
import { Tracer } from "../../profiling/trace.ts";
import { debugRoutes } from "../routes.ts";

/**
 * The debug server's routes over stand-in options (no service behind them), for tests that read
 * the route table.
 */
export function inertDebugRoutes(): ReturnType<typeof debugRoutes> {
  return debugRoutes({
    health: {
      ready: () => true,
      environment: "x",
      host: "h",
      api: () => undefined,
      downAfterMs: 1,
    },
    metrics: {
      stats: () => undefined,
      ready: () => true,
      build: { environment: "x", store: "sqlite", workers: 1 },
      startedAt: 0,
    },
    profiling: { cmdline: [], tracer: new Tracer() },
  });
}
