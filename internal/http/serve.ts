/**
 * One HTTP listener that bounds its clients and does not die. `Deno.serve` has no time limits and
 * no connection cap (Deno 2.9: a client trickling headers, a body that never completes and an
 * idle keep-alive connection all stay open forever), and its accept loop ends for good on the first
 * accept error (`EMFILE` when the process runs out of file descriptors). So this module accepts
 * connections itself (`Deno.listen`) and runs Deno's native HTTP engine on each one
 * (`serveHttpOnConnection`, the runtime's own per-connection server; internal, so the Deno version
 * is pinned and a test fails loudly if it goes away). Around it:
 *
 * - **a connection cap**: above `maxConnections` a new connection is closed at once (with TLS,
 *   no more are accepted until a place is free, see below);
 * - **time limits**, checked by a sweep every second: a connection whose first request has not
 *   arrived within `headerTimeoutMs` (slow or half-sent headers), or that has had no request in
 *   flight for `idleTimeoutMs` (idle keep-alive, a later request trickling in), is closed;
 * - **TLS handshakes done here**, before the HTTP engine gets the connection: Deno closes a TLS
 *   connection's socket only once its handshake has ended, so a client that never finishes one
 *   cannot be dropped, and the engine would forget it while its socket stays open. Here it keeps
 *   its place under the cap until the client goes, and a full TLS listener waits for a place
 *   instead of accepting connections it could not close, so descriptors stay bounded;
 *   request bodies have their own limit in `body.ts`;
 * - **accept errors back off** and accepting resumes once descriptors are free; the state is
 *   reported, so readiness can say so;
 * - **a graceful shutdown** stops accepting, lets in-flight requests finish (their bodies
 *   included), gives a connection that has not sent its first request yet a short grace to send
 *   it (as Go's `Server.Shutdown` does), then closes the connections.
 *
 * Per request the cost is a counter and one closure call.
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { jsonError } from "./respond.ts";
import type { RequestHandler } from "./router.ts";

/** Bounds on the clients of one listener. */
export interface ConnectionLimits {
  /** Most connections open at once; above it new ones are closed. */
  maxConnections: number;
  /** Time a new connection has to send its first request's headers (ms). */
  headerTimeoutMs: number;
  /** Time a connection may stay open with no request in flight (ms). */
  idleTimeoutMs: number;
}

/** Defaults of {@link ConnectionLimits}. */
export const DEFAULT_LIMITS: ConnectionLimits = {
  maxConnections: 10_000,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
};

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Address to bind. */
  hostname: string;
  /** Share the port with other listeners of this process (`SO_REUSEPORT`). */
  reusePort?: boolean;
  /** Certificate and key (PEM) to serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
  /** Answers requests. */
  handler: RequestHandler;
  /** Where failures are logged, one line each. */
  logger: Logger;
  /** What the server is, for log lines (e.g. `api worker 0`). */
  name: string;
  /** Bounds on clients (default {@link DEFAULT_LIMITS}). */
  limits?: ConnectionLimits;
  /**
   * When a request counts as finished for the idle limit: when the handler returns (`handler`,
   * cheapest; for small answers) or when the answer is fully written (`response`, for long ones).
   */
  finishedWhen?: "handler" | "response";
  /** Called when the listener starts or stops accepting connections (accept errors). */
  onAccepting?: (accepting: boolean) => void;
}

/** A running listener. */
export interface RunningServer {
  /** The port it listens on. */
  readonly port: number;
  /** True while it accepts connections (false while accepting fails, and once stopped). */
  accepting(): boolean;
  /** Open connections, requests in flight, and what was refused or closed so far. */
  stats(): ServerStats;
  /**
   * Stops accepting, lets in-flight requests finish (bodies included) and a connection accepted
   * within the last {@link SHUTDOWN_NEW_CONNECTION_GRACE_MS} send its first request, then closes
   * every connection. Resolves when all are closed.
   */
  shutdown(): Promise<void>;
}

/** What a listener has seen. */
export interface ServerStats {
  /** Connections open now (TLS ones still in their handshake included). */
  open: number;
  /** Requests being handled now. */
  inFlight: number;
  /** Connections closed at once because the cap was reached. */
  refused: number;
  /** Connections closed by the header or idle time limit. */
  timedOut: number;
  /** Failed accepts. */
  acceptErrors: number;
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => Deno.HttpServer;

/** Deno's per-connection server; throws at startup when this Deno does not have it. */
function serveOnConnection(): ServeOnConnection {
  const internal = (Deno as unknown as Record<symbol | string, unknown>)[
    (Deno as unknown as { internal: symbol }).internal
  ] as { serveHttpOnConnection?: ServeOnConnection } | undefined;
  const serve = internal?.serveHttpOnConnection;
  if (typeof serve !== "function") {
    throw new Error(
      `this Deno (${Deno.version.deno}) has no per-connection HTTP server; run the pinned Deno`,
    );
  }
  return serve;
}

interface Connection {
  abort: AbortController;
  /** Requests whose handler (or answer) has not finished. */
  active: number;
  /** Requests started on it. */
  requests: number;
  /** The sweep tick when it last had nothing in flight. */
  since: number;
  /** When it was accepted (`performance.now()`). */
  opened: number;
  finished: Promise<void>;
}

/** The client's address of a connection (its host, for per-client limits). */
function peerOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr as Deno.NetAddr | Deno.UnixAddr;
  return "hostname" in addr ? addr.hostname : "local";
}

/** Milliseconds a connection stays open after a 408, for the answer to be written. */
const LINGER_MS = 100;

/** Milliseconds between sweeps (the resolution of the time limits). */
const SWEEP_MS = 1_000;

/**
 * Milliseconds a connection accepted just before a shutdown has to send its first request (a
 * client that connected and wrote its request as the shutdown began is not turned away).
 */
export const SHUTDOWN_NEW_CONNECTION_GRACE_MS = 5_000;

/**
 * Starts listening.
 * @throws when the port cannot be bound (taken, or not allowed).
 */
export function startServer(options: ServerOptions): RunningServer {
  const serveOn = serveOnConnection();
  const limits = options.limits ?? DEFAULT_LIMITS;
  const { logger, name, handler } = options;
  const listener: Deno.Listener = options.tls === undefined
    ? Deno.listen({
      hostname: options.hostname,
      port: options.port,
      reusePort: options.reusePort ?? false,
    })
    : Deno.listenTls(
      {
        hostname: options.hostname,
        port: options.port,
        cert: options.tls.cert,
        key: options.tls.key,
        reusePort: options.reusePort ?? false,
        alpnProtocols: ["h2", "http/1.1"],
      } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
  const port = (listener.addr as Deno.NetAddr).port;
  const connections = new Set<Connection>();
  /** TLS connections still in their handshake, and when each handshake settles. */
  const handshaking = new Map<Deno.TlsConn, Promise<void>>();
  /** Set once a shutdown has closed the handshakes that outlasted its grace. */
  let handshakesCut = false;
  /** Wakes the accept loop when it waits for a place under the cap (TLS). */
  let wake: (() => void) | undefined;
  const placeFreed = () => {
    wake?.();
    wake = undefined;
  };
  const full = () => connections.size + handshaking.size >= limits.maxConnections;
  const counts = { refused: 0, timedOut: 0, acceptErrors: 0 };
  let tick = 0;
  let stopped = false;
  let accepting = true;
  const headerTicks = Math.max(1, Math.ceil(limits.headerTimeoutMs / SWEEP_MS));
  const idleTicks = Math.max(1, Math.ceil(limits.idleTimeoutMs / SWEEP_MS));

  const setAccepting = (now: boolean) => {
    if (now === accepting) return;
    accepting = now;
    options.onAccepting?.(now);
  };

  const onError = (error: unknown): Response => {
    logger.error(`${name}: request failed`, { error });
    return jsonError("internal", "internal error: the request could not be handled");
  };

  const byResponse = options.finishedWhen === "response";

  function serve(conn: Deno.Conn): void {
    const c: Connection = {
      abort: new AbortController(),
      active: 0,
      requests: 0,
      since: tick,
      opened: performance.now(),
      finished: Promise.resolve(),
    };
    const done = () => {
      c.active--;
      c.since = tick;
    };
    const peer = peerOf(conn);
    const server = serveOn(
      conn,
      c.abort.signal,
      (req, info) => {
        c.active++;
        c.requests++;
        if (byResponse) {
          info.completed.then(done, done);
          return handler(req, peer);
        }
        let answer: Response | Promise<Response>;
        try {
          answer = handler(req, peer);
        } catch (error) {
          done();
          throw error;
        }
        if (answer instanceof Response) {
          done();
          return answer;
        }
        return answer.then((response) => {
          done();
          // A body that did not arrive in time: answered, then the slow client is let go (the
          // runtime's `completed` does not settle while the rest of the body is still owed).
          if (response.status === 408) setTimeout(() => c.abort.abort(), LINGER_MS);
          return response;
        }, (error) => {
          done();
          throw error;
        });
      },
      onError,
      () => {},
    );
    connections.add(c);
    // A client that resets its connection rejects `finished`; that is no failure of ours.
    c.finished = server.finished.then(() => {}, () => {}).finally(() => {
      connections.delete(c);
      placeFreed();
    });
  }

  /** Serves a TLS connection once its handshake is done; one that fails is closed. */
  function handshakeThenServe(conn: Deno.TlsConn): void {
    const settled = conn.handshake().then(() => true, () => false).then((done) => {
      handshaking.delete(conn);
      placeFreed();
      if (done && !handshakesCut) return serve(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    });
    handshaking.set(conn, settled);
  }

  const sweep = setInterval(() => {
    tick++;
    for (const c of connections) {
      if (c.active > 0) continue;
      if (tick - c.since >= (c.requests === 0 ? headerTicks : idleTicks)) {
        counts.timedOut++;
        c.abort.abort();
      }
    }
  }, SWEEP_MS);

  const loop = (async () => {
    let backoff = 10;
    let failing = false;
    while (!stopped) {
      if (options.tls !== undefined && full()) {
        // A TLS connection cannot be closed before its handshake ends: accept no more until a
        // place is free (the kernel's backlog holds the newcomers meanwhile).
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopped || error instanceof Deno.errors.BadResource) break;
        counts.acceptErrors++;
        if (!failing) {
          failing = true;
          logger.error(`${name}: cannot accept connections; retrying`, { port, error });
        }
        setAccepting(false);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, SWEEP_MS);
        continue;
      }
      if (failing) {
        failing = false;
        backoff = 10;
        logger.info(`${name}: accepting connections again`, { port });
      }
      setAccepting(true);
      if (full()) {
        counts.refused++;
        conn.close();
        continue;
      }
      if (options.tls === undefined) serve(conn);
      else handshakeThenServe(conn as Deno.TlsConn);
    }
  })();

  return {
    port,
    accepting: () => accepting && !stopped,
    stats: () => {
      let inFlight = 0;
      for (const c of connections) inFlight += c.active;
      return { open: connections.size + handshaking.size, inFlight, ...counts };
    },
    async shutdown() {
      if (!stopped) {
        stopped = true;
        placeFreed();
        listener.close();
        setAccepting(false);
      }
      await loop;
      // Handshakes under way get the grace of new connections; those left are cut short.
      const grace = Math.min(SHUTDOWN_NEW_CONNECTION_GRACE_MS, limits.headerTimeoutMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(handshaking.values()),
        new Promise((resolve) => (timer = setTimeout(resolve, grace))),
      ]);
      clearTimeout(timer);
      handshakesCut = true;
      for (const conn of handshaking.keys()) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      // In-flight requests finish, bodies included; a new connection gets its grace to send its
      // first request; idle connections are closed meanwhile.
      for (;;) {
        const now = performance.now();
        let waiting = false;
        for (const c of connections) {
          if (c.active > 0 || (c.requests === 0 && now - c.opened < grace)) waiting = true;
          else c.abort.abort();
        }
        if (!waiting) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      clearInterval(sweep);
      for (const c of connections) c.abort.abort();
      await Promise.all([...connections].map((c) => c.finished));
    },
  };
}
