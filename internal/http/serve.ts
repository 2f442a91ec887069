/**
 * One HTTP listener that does not die: `Deno.serve` with a JSON `500` for anything a handler lets
 * escape, and a listen loop that comes back after the runtime's accept loop fails (for example on
 * `EMFILE` when the process runs out of file descriptors). Until it listens again it retries with
 * backoff and reports its state, so readiness and liveness can say so.
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { jsonError } from "./respond.ts";
import type { RequestHandler } from "./router.ts";

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Port; 0 picks a free one (kept for restarts). */
  port: number;
  /** Address to bind. */
  hostname: string;
  /** Share the port with other listeners of this process (`SO_REUSEPORT`). */
  reusePort?: boolean;
  /** Answers requests. */
  handler: RequestHandler;
  /** Where failures are logged, one line each. */
  logger: Logger;
  /** What the server is, for log lines (e.g. `api server`). */
  name: string;
  /** Called whenever it starts or stops listening. */
  onState?: (listening: boolean) => void;
  /** First and largest delay between attempts to listen again (ms). */
  retryMs?: { initial: number; max: number };
}

/** A running listener. */
export interface RunningServer {
  /** The port it listens on. */
  readonly port: number;
  /** True while it accepts connections. */
  listening(): boolean;
  /** Stops accepting, lets in-flight requests finish, and closes. */
  shutdown(): Promise<void>;
}

/**
 * Starts listening.
 * @throws when the first attempt to listen fails (the port is taken, or not allowed).
 */
export function startServer(options: ServerOptions): RunningServer {
  const retry = options.retryMs ?? { initial: 100, max: 2_000 };
  const { logger, name } = options;
  const onError = (error: unknown): Response => {
    logger.error(`${name}: request failed`, { error });
    return jsonError("internal", "internal error: the request could not be handled");
  };
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let port = options.port;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let delay = retry.initial;

  const setListening = (now: Deno.HttpServer<Deno.NetAddr> | undefined) => {
    server = now;
    options.onState?.(now !== undefined);
  };

  const listen = (): Deno.HttpServer<Deno.NetAddr> => {
    const started = Deno.serve({
      port,
      hostname: options.hostname,
      reusePort: options.reusePort ?? false,
      handler: options.handler,
      onError,
      onListen: () => {},
    });
    port = started.addr.port;
    started.finished.then(
      () => {
        if (server === started) setListening(undefined);
      },
      (error: unknown) => {
        if (server !== started) return;
        setListening(undefined);
        logger.error(`${name}: stopped accepting connections; listening again`, {
          port,
          error,
        });
        again();
      },
    );
    return started;
  };

  const again = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      try {
        setListening(listen());
        delay = retry.initial;
        logger.info(`${name}: listening again`, { port });
      } catch (error) {
        logger.error(`${name}: cannot listen yet; retrying`, { port, retryMs: delay, error });
        delay = Math.min(delay * 2, retry.max);
        again();
      }
    }, delay);
  };

  setListening(listen());
  return {
    get port() {
      return port;
    },
    listening: () => server !== undefined,
    async shutdown() {
      stopped = true;
      clearTimeout(timer);
      const current = server;
      if (current === undefined) return;
      await current.shutdown();
      setListening(undefined);
    },
  };
}
