/**
 * Health endpoints of the debug server: readiness (may this instance receive traffic?) and
 * liveness (is the process alive, and which build and host is it?).
 *
 * @module
 */
import { json } from "../respond.ts";
import type { Route } from "../router.ts";

/** Options of the health routes. */
export interface HealthOptions {
  /** True once the service can hand out numbers and is not shutting down. */
  ready: () => boolean;
  /** The `ENVIRONMENT` the process runs as. */
  environment: string;
  /** The host name; `unavailable` when it cannot be read. */
  host: string;
}

/** The machine's host name, or `unavailable` when it cannot be read (no `--allow-sys=hostname`). */
export function hostName(): string {
  try {
    return Deno.hostname() || "unavailable";
  } catch {
    return "unavailable";
  }
}

/** `GET /debug/readiness` and `GET /debug/liveness`. */
export function healthRoutes(options: HealthOptions): Route[] {
  const live = { status: "up", build: options.environment, host: options.host };
  return [
    {
      method: "GET",
      path: "/debug/readiness",
      summary: "200 when the service can serve, 503 before that and while shutting down",
      handler: () =>
        options.ready() ? json(200, { status: "ok" }) : json(503, { status: "not ready" }),
    },
    {
      method: "GET",
      path: "/debug/liveness",
      summary: "200 while the process is alive, with its build and host",
      handler: () => json(200, live),
    },
  ];
}
