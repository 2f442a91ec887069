/**
 * The service's lifecycle: open the store, start the owner, start the debug and API servers, and
 * shut all of it down gracefully within a timeout. `cmd/app/main.ts` is a thin shell around this;
 * tests start the same thing in-process on port 0.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { describeConfig, storeKind } from "../config/config.ts";
import type { MetricsSnapshot } from "../metrics/metrics.ts";
import type { Logger } from "../log/log.ts";
import type { Store } from "../store/store.ts";
import { openSqliteStore } from "../store/sqlite_store.ts";
import { openPostgresStore } from "../store/postgres_store.ts";
import { SequenceOwner } from "../atomicSequence/owner.ts";
import { SequenceClient } from "../atomicSequence/sequences.ts";
import { DEFAULT_SIZING } from "../atomicSequence/block_size.ts";
import { Flag } from "../atomicSequence/atomic_sequence.ts";
import { apiHandler, debugRoutes } from "../handlers/handlers.ts";
import { createRouter, type RequestHandler } from "../handlers/router.ts";
import { hostName } from "../handlers/health/health.ts";
import type { OtherThreads } from "../profiling/pprof_routes.ts";
import { tracer, traceRequest } from "../profiling/trace.ts";
import { startApiWorkers } from "../workers/api_workers.ts";

/** How a shutdown ended. */
export type ShutdownOutcome = "graceful" | "timeout";

/** A running service. */
export interface App {
  /** The API server's port (the chosen one when `API_PORT=0`). */
  readonly apiPort: number;
  /** The debug server's port. */
  readonly debugPort: number;
  /**
   * Stops gracefully: readiness turns 503 at once, the API stops accepting connections and
   * finishes in-flight requests, then the debug server stops and the store closes. Resolves
   * `timeout` when that took longer than `SHUTDOWN_TIMEOUT_SEC` (connections are then abandoned).
   */
  shutdown(reason: string): Promise<ShutdownOutcome>;
}

/** Options of {@link startApp}. */
export interface AppOptions {
  /** The process's command line, for `/debug/pprof/cmdline`. */
  cmdline: string[];
}

interface Server {
  port: number;
  shutdown(): Promise<void>;
}

function serve(
  port: number,
  hostname: string,
  handler: RequestHandler,
  onError: (error: unknown) => Response,
): Server {
  const server = Deno.serve({ port, hostname, handler, onError, onListen: () => {} });
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}

async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.databaseUrl !== undefined) {
    return await openPostgresStore(config.databaseUrl, {
      poolSize: config.databasePoolSize,
      logger,
    });
  }
  return await openSqliteStore(config.dataDir);
}

/**
 * Starts the service. The debug server listens first (liveness answers, readiness says `not
 * ready`); then the store opens and the first block is committed; then the API listens.
 * @throws when the store cannot be opened or the first block cannot be committed; everything
 * started so far is stopped first.
 */
export async function startApp(config: Config, logger: Logger, options: AppOptions): Promise<App> {
  logger.info("starting", { config: describeConfig(config), pid: Deno.pid });
  let ready = () => false;
  let metricsOf: (() => MetricsSnapshot) | undefined;
  let threads: OtherThreads | undefined;
  const onError = (error: unknown) => {
    logger.error("request failed", { error });
    return new Response('{"status":"error","error":"internal error"}', {
      status: 500,
      headers: { "content-type": "application/json" },
    });
  };
  const debug = serve(
    config.debugPort,
    config.debugHost,
    createRouter(
      debugRoutes(
        { ready: () => ready(), environment: config.environment, host: hostName() },
        {
          snapshot: () => metricsOf?.(),
          ready: () => ready(),
          build: {
            environment: config.environment,
            store: storeKind(config),
            workers: config.workers,
          },
          startedAt: Date.now() - performance.now(),
        },
        { cmdline: options.cmdline, logger, threads: () => threads },
      ),
      logger,
    ),
    onError,
  );
  logger.info("debug server listening", { address: `${config.debugHost}:${debug.port}` });

  let store: Store | undefined;
  let owner: SequenceOwner | undefined;
  try {
    store = await openStore(config, logger);
    owner = await SequenceOwner.start(store, {
      logger,
      sizing: {
        ...DEFAULT_SIZING,
        min: BigInt(config.blockSizeMin),
        max: BigInt(config.blockSizeMax),
      },
      onReserve: (name, size, started, committed, installed) => {
        if (!tracer.active) return;
        const args = { sequence: name, size: String(size) };
        const us = (ms: number) => ms * 1000;
        tracer.complete(
          "block reservation",
          "allocator",
          us(started),
          us(installed - started),
          args,
        );
        tracer.complete("store commit", "store", us(started), us(committed - started), args);
      },
    });
    const table = owner.table;
    const client = new SequenceClient(table, owner);
    ready = () => client.ready();
    const ownerRef = owner;
    metricsOf = () => ownerRef.metrics();
    const v1 = { batchMax: config.batchMax };
    let api: Server;
    if (config.workers > 1) {
      const workers = await startApiWorkers({
        port: config.apiPort,
        workers: config.workers,
        v1,
        owner,
        logger,
      });
      threads = workers.threads;
      api = workers;
    } else {
      const router = apiHandler(client, v1, logger);
      api = serve(config.apiPort, "0.0.0.0", (req) => traceRequest(req, router), onError);
    }
    logger.info("api server listening", {
      address: `0.0.0.0:${api.port}`,
      workers: config.workers,
      store: store.kind,
    });

    const openStoreRef = store;
    return {
      apiPort: api.port,
      debugPort: debug.port,
      async shutdown(reason: string): Promise<ShutdownOutcome> {
        logger.info("shutting down", { reason, timeoutSec: config.shutdownTimeoutSec });
        table.setFlag(Flag.ShuttingDown, 1);
        const started = performance.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), config.shutdownTimeoutSec * 1000);
        });
        const drain = (async (): Promise<"graceful"> => {
          await api.shutdown();
          await debug.shutdown();
          await ownerRef.close();
          await openStoreRef.close();
          return "graceful";
        })();
        const outcome = await Promise.race([drain, timeout]);
        clearTimeout(timer);
        const fields = { outcome, ms: Math.round(performance.now() - started) };
        if (outcome === "graceful") logger.info("shutdown complete", fields);
        else logger.error("shutdown timed out: abandoning open connections", fields);
        return outcome;
      },
    };
  } catch (error) {
    await owner?.close();
    await store?.close();
    await debug.shutdown();
    throw error;
  }
}
