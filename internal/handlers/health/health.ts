/**
 * Health endpoints of the debug server: readiness (may this instance receive traffic?) and
 * liveness (is the process alive and serving, and which build and host is it?).
 *
 * @module
 */
import { json } from "../../http/respond.ts";
import type { Route } from "../../http/router.ts";

/** The API listeners as liveness reports them. */
export interface ApiHealth {
  /** API listener threads configured. */
  workers: number;
  /** How many of them accept connections now. */
  listening: number;
  /** Milliseconds since the last moment any of them listened; 0 while one does. */
  downForMs: number;
}

/** Options of the health routes. */
export interface HealthOptions {
  /** True when the API port answers and numbers can be handed out, and not shutting down. */
  ready: () => boolean;
  /** The `ENVIRONMENT` the process runs as. */
  environment: string;
  /** The host name; `unavailable` when it cannot be read. */
  host: string;
  /** The API listeners; absent while they start. */
  api: () => ApiHealth | undefined;
  /**
   * How long no API listener may accept connections before liveness answers `503` (ms), so that a
   * supervisor restarts a process whose listeners cannot come back.
   */
  downAfterMs: number;
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
  const identity = { build: options.environment, host: options.host };
  return [
    {
      method: "GET",
      path: "/debug/readiness",
      access: "open",
      summary: "200 when the API answers and can hand out numbers; 503 otherwise",
      handler: () =>
        options.ready() ? json(200, { status: "ok" }) : json(503, { status: "not ready" }),
    },
    {
      method: "GET",
      path: "/debug/liveness",
      access: "open",
      summary: "200 while the process is alive and its API listens, with its build and host",
      handler: () => {
        const api = options.api();
        if (api === undefined) return json(200, { status: "up", ...identity });
        const { workers, listening, downForMs } = api;
        if (downForMs > options.downAfterMs) {
          return json(503, {
            status: "down",
            ...identity,
            api: { workers, listening },
            error: `no API listener has accepted connections for ${
              Math.round(downForMs / 1000)
            } s; restart the process`,
          });
        }
        return json(200, { status: "up", ...identity, api: { workers, listening } });
      },
    },
  ];
}
