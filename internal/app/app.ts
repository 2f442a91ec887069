/**
 * The service's lifecycle, in steps: the debug server, the store, the owner, the API, and a
 * graceful shutdown within a timeout. `cmd/app/main.ts` is a thin shell around {@link startApp}.
 * Route lists are composed here, the one place that knows every part.
 *
 * @module
 */
import { SequenceOwner } from "../atomicSequence/owner.ts";
import { DEFAULT_SIZING } from "../atomicSequence/block_size.ts";
import { type AccessControl, createAccessControl } from "../auth/guard.ts";
import { readTokenFile, TokenFileError, type TokenTable } from "../auth/token_file.ts";
import type { Config } from "../config/config.ts";
import { describeConfig } from "../config/config.ts";
import { hostName } from "../handlers/health/health.ts";
import { createRouter } from "../http/router.ts";
import { type RunningServer, startServer } from "../http/serve.ts";
import type { Logger } from "../log/log.ts";
import { CommitLatency } from "../metrics/store_latency.ts";
import type { Profiler } from "../profiling/pprof_routes.ts";
import { reservationTracer, Tracer } from "../profiling/trace.ts";
import { openStore } from "../store/open_store.ts";
import type { Store } from "../store/store.ts";
import { observeService } from "../telemetry/instruments.ts";
import { everyHook } from "../telemetry/otel.ts";
import { reservationSpans } from "../telemetry/spans.ts";
import { type ApiPool, startApiPool } from "../workers/api_pool.ts";
import { claimPort, type PortClaim } from "./port_claim.ts";
import { debugRoutes } from "./routes.ts";
import { readTlsFiles, tlsListenError, type TlsPem } from "./tls_files.ts";

/** How a shutdown ended. */
export type ShutdownOutcome = "graceful" | "timeout";

/** A running service. */
export interface App {
  /** The API server's port (the chosen one when `API_PORT=0`). */
  readonly apiPort: number;
  /** The debug server's port. */
  readonly debugPort: number;
  /**
   * Stops gracefully: readiness turns 503 at once, running captures end, the API stops accepting
   * connections and finishes in-flight requests, then the debug server stops and the store
   * closes. Resolves `timeout` when that took longer than `SHUTDOWN_TIMEOUT_SEC` (connections
   * are then abandoned).
   */
  shutdown(reason: string): Promise<ShutdownOutcome>;
  /**
   * Re-reads `AUTH_TOKENS_FILE` (on SIGHUP) and puts its tokens in force on both servers and in
   * every API worker; a file that is refused leaves the tokens in force and logs one error line.
   * Calls run one after the other.
   */
  reloadTokens(): Promise<void>;
}

/** Options of {@link startApp}. */
export interface AppOptions {
  /** The process's command line, for `/debug/pprof/cmdline`. */
  cmdline: string[];
}

/** Bounds on the debug server's clients: probes, scrapers and an operator's captures. */
const DEBUG_LIMITS = { maxConnections: 256, headerTimeoutMs: 10_000, idleTimeoutMs: 60_000 };

/** How long no API listener may accept connections before liveness answers 503 (ms). */
const LIVENESS_DOWN_AFTER_MS = 30_000;

/** What the steps have started so far. */
interface AppState {
  readonly config: Config;
  readonly logger: Logger;
  readonly tracer: Tracer;
  /** The access tokens of the main thread (the debug server); absent when tokens are off. */
  readonly access: AccessControl | undefined;
  /** The token table in force (what new API workers start with). */
  tokens: TokenTable | undefined;
  /** The certificate and key of both listeners; absent: HTTP. */
  readonly tls: TlsPem | undefined;
  store?: Store;
  owner?: SequenceOwner;
  /** Store commit durations for /debug/metrics; set with the owner. */
  commits?: CommitLatency;
  api?: ApiPool;
  port?: PortClaim;
  stopping: boolean;
}

function ready(state: AppState): boolean {
  return !state.stopping && state.owner?.ready() === true && state.api?.allListening() === true;
}

/** Step 1: the debug server, so liveness answers while the rest starts. */
function startDebugServer(
  state: AppState,
  options: AppOptions,
): { server: RunningServer; profiler: Profiler } {
  const { config, logger, tracer } = state;
  const { routes, profiler } = debugRoutes({
    health: {
      ready: () => ready(state),
      environment: config.environment,
      host: hostName(),
      api: () => state.api?.health(),
      downAfterMs: LIVENESS_DOWN_AFTER_MS,
    },
    metrics: {
      stats: () => state.owner?.stats(),
      http: async () => await state.api?.httpStats(),
      ready: () => ready(state),
      commits: () => state.commits?.snapshot(),
      build: { environment: config.environment, store: config.store.kind, workers: config.workers },
      startedAt: Date.now() - performance.now(),
    },
    profiling: { cmdline: options.cmdline, tracer, logger, threads: () => state.api?.threads },
  });
  let server;
  try {
    server = startServer({
      port: config.debugPort,
      hostname: config.debugHost,
      tls: state.tls,
      handler: createRouter(routes, { logger, guard: state.access?.guard }),
      logger,
      name: "debug server",
      finishedWhen: "response",
      limits: DEBUG_LIMITS,
    });
  } catch (error) {
    throw config.tls === undefined ? error : tlsListenError(error, config.tls);
  }
  logger.info("debug server listening", {
    address: `${config.debugHost}:${server.port}`,
    scheme: state.tls === undefined ? "http" : "https",
  });
  return { server, profiler };
}

/** Step 2: the owner on the store; the default sequence's first block is committed. */
async function startOwner(state: AppState, store: Store): Promise<SequenceOwner> {
  const { config, logger } = state;
  state.commits = new CommitLatency();
  // OpenTelemetry (OTEL_DENO): spans and instruments, or nothing when it is off.
  const otel = { store: config.store.kind };
  const view = { stats: () => state.owner?.stats(), ready: () => ready(state) };
  return await SequenceOwner.start(store, {
    logger,
    capacity: config.sequencesMax,
    idempotencyTtlMs: config.idempotencyTtlSec * 1000,
    sizing: {
      ...DEFAULT_SIZING,
      min: BigInt(config.blockSizeMin),
      max: BigInt(config.blockSizeMax),
    },
    onReserve: everyHook(
      reservationTracer(state.tracer),
      state.commits.onReserve,
      reservationSpans(otel),
      observeService(view, otel),
    ),
  });
}

/** Step 3: the API's worker threads; resolves once every one listens. */
async function startApi(state: AppState, owner: SequenceOwner): Promise<ApiPool> {
  const { config, logger } = state;
  const { maxConnections, headerTimeoutMs, idleTimeoutMs, bodyTimeoutMs } = config.http;
  const api = await startApiPool({
    port: config.apiPort,
    hostname: config.apiHost,
    limits: { maxConnections, headerTimeoutMs, idleTimeoutMs },
    bodyTimeoutMs,
    rates: config.rates,
    workers: config.workers,
    batchMax: config.batchMax,
    logRequests: config.logRequests,
    module: new URL("./api_worker.ts", import.meta.url),
    owner,
    logger,
    tokens: state.tokens,
    tls: state.tls,
  });
  logger.info("api server listening", {
    address: `${config.apiHost}:${api.port}`,
    scheme: state.tls === undefined ? "http" : "https",
    workers: config.workers,
    store: config.store.kind,
  });
  return api;
}

/** On SIGHUP: the token file again, in force everywhere, or the old tokens and one error line. */
async function reloadTokens(state: AppState): Promise<void> {
  const { config, logger, access } = state;
  if (config.authTokensFile === undefined || access === undefined) {
    logger.info("SIGHUP: access tokens are off (AUTH_TOKENS_FILE is not set): nothing to reload");
    return;
  }
  if (state.stopping) return;
  let table: TokenTable;
  try {
    table = await readTokenFile(config.authTokensFile);
  } catch (error) {
    if (!(error instanceof TokenFileError)) throw error;
    logger.error("access tokens not reloaded: the file is refused; the tokens in force stay", {
      error: error.message,
      tokens: access.size,
    });
    return;
  }
  state.tokens = table;
  access.replace(table);
  const workers = await state.api?.setTokens(table) ?? 0;
  logger.info("access tokens reloaded", {
    file: config.authTokensFile,
    tokens: table.length,
    workers,
  });
}

/** Before anything listens: the token file and the TLS files, or one error naming the file. */
async function readSecrets(
  config: Config,
  logger: Logger,
): Promise<{ tokens?: TokenTable; tls?: TlsPem }> {
  const tls = config.tls === undefined ? undefined : await readTlsFiles(config.tls);
  if (config.authTokensFile === undefined) {
    logger.warn(
      "access tokens are off: anyone who reaches the API may take numbers and create, change or " +
        "list sequences, and anyone who reaches the debug port may profile and trace; set " +
        "AUTH_TOKENS_FILE to require tokens",
    );
    return { tls };
  }
  const tokens = await readTokenFile(config.authTokensFile);
  logger.info("access tokens on", { file: config.authTokensFile, tokens: tokens.length });
  return { tokens, tls };
}

/** Step 4: a graceful shutdown within `SHUTDOWN_TIMEOUT_SEC`. */
async function shutdown(
  state: AppState,
  debug: { server: RunningServer; profiler: Profiler },
  reason: string,
): Promise<ShutdownOutcome> {
  const { config, logger } = state;
  logger.info("shutting down", { reason, timeoutSec: config.shutdownTimeoutSec });
  state.stopping = true;
  debug.profiler.stop();
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), config.shutdownTimeoutSec * 1000);
  });
  const drain = (async (): Promise<"graceful"> => {
    await state.api?.shutdown();
    await debug.server.shutdown();
    await state.owner?.close({ giveBack: true });
    await state.store?.close();
    state.port?.release();
    return "graceful";
  })();
  const outcome = await Promise.race([drain, timeout]);
  clearTimeout(timer);
  const fields = { outcome, ms: Math.round(performance.now() - started) };
  if (outcome === "graceful") logger.info("shutdown complete", fields);
  else logger.error("shutdown timed out: abandoning open connections", fields);
  return outcome;
}

/**
 * Starts the service. The debug server listens first (liveness answers, readiness says `not
 * ready`); then the store opens and the first block is committed; then the API listens, and only
 * then is the service ready.
 * @throws when the store cannot be opened, the first block cannot be committed, or the API port
 * cannot be bound; everything started so far is stopped first.
 */
export async function startApp(config: Config, logger: Logger, options: AppOptions): Promise<App> {
  logger.info("starting", { config: describeConfig(config), pid: Deno.pid });
  const { tokens, tls } = await readSecrets(config, logger);
  const state: AppState = {
    config,
    logger,
    tracer: new Tracer(),
    access: tokens === undefined ? undefined : createAccessControl(tokens),
    tokens,
    tls,
    stopping: false,
  };
  state.port = await claimPort(config.apiPort, {
    hostname: config.apiHost,
    lockDir: config.lockDir,
  });
  let debug;
  try {
    debug = startDebugServer(state, options);
  } catch (error) {
    state.port.release();
    throw error;
  }
  try {
    state.store = await openStore(config.store, { logger });
    state.owner = await startOwner(state, state.store);
    state.api = await startApi(state, state.owner);
  } catch (error) {
    state.stopping = true;
    debug.profiler.stop();
    await state.owner?.close();
    await state.store?.close();
    await debug.server.shutdown();
    state.port.release();
    throw error;
  }
  let reloads = Promise.resolve();
  return {
    apiPort: state.api.port,
    debugPort: debug.server.port,
    shutdown: (reason) => shutdown(state, debug, reason),
    reloadTokens: () =>
      reloads = reloads.then(() => reloadTokens(state)).catch((error) =>
        logger.error("access tokens not reloaded", { error })
      ),
  };
}
