/**
 * Service configuration read from environment variables.
 *
 * Every variable has a default; an invalid value is a {@link ConfigError} whose message names the
 * variable, the value it had and the rule it broke, so `main.ts` can print one line and exit 1
 * before anything listens.
 *
 * @module
 */

import { SEQUENCE_CAPACITY } from "../domain/domain.ts";
import { parsePostgresUrl, PostgresUrlError, redactUrl } from "../store/postgres_url.ts";
import type { StoreConfig } from "../store/store.ts";

/** Bounds on the API's clients (see `Config.http`). */
export interface HttpLimits {
  /** Most connections open at once in the process. */
  maxConnections: number;
  /** Milliseconds a new connection has to send its first request's headers. */
  headerTimeoutMs: number;
  /** Milliseconds a connection may stay open with no request in flight. */
  idleTimeoutMs: number;
  /** Milliseconds a request body has to arrive. */
  bodyTimeoutMs: number;
}

/** The effective configuration of one service process. */
export interface Config {
  /** Port of the public API server (`API_PORT`, default 3000; 0 picks a free port). */
  apiPort: number;
  /** Port of the debug server (`DEBUG_PORT`, default 3001; 0 picks a free port). */
  debugPort: number;
  /**
   * Address the debug server binds (`DEBUG_HOST`, default `127.0.0.1`: profiles and traces stay on
   * the host; the Docker image sets `0.0.0.0` so published ports and probes reach it).
   */
  debugHost: string;
  /** Seconds a graceful shutdown may take before connections are force-closed (`SHUTDOWN_TIMEOUT_SEC`, default 20). */
  shutdownTimeoutSec: number;
  /** Build or deployment name reported by `/debug/liveness` (`ENVIRONMENT`, default `development`). */
  environment: string;
  /** Folder of the embedded store (`DATA_DIR`, default `./data`). */
  dataDir: string;
  /**
   * The store: PostgreSQL when `DATABASE_URL` is set (pool of `DATABASE_POOL_SIZE`, default 4),
   * else the embedded one in `DATA_DIR`.
   */
  store: StoreConfig;
  /** Address the API binds (`API_HOST`, default `0.0.0.0`). */
  apiHost: string;
  /** Folder of the per-port lock files that keep two processes off one API port (`LOCK_DIR`, default `/tmp`). */
  lockDir: string;
  /**
   * Bounds on clients of the API: open connections per process (`HTTP_MAX_CONNECTIONS`, default
   * 4096), time to send the first request's headers (`HTTP_HEADER_TIMEOUT_SEC`, default 10), time
   * a connection may stay open with nothing in flight (`HTTP_IDLE_TIMEOUT_SEC`, default 60), and
   * time to send a request body (`HTTP_BODY_TIMEOUT_SEC`, default 30).
   */
  http: HttpLimits;
  /** Distinct sequences one process serves (`SEQUENCES_MAX`, default 4096; slots of shared memory). */
  sequencesMax: number;
  /**
   * Seconds the answer of a request made with an `Idempotency-Key` is kept for its retries
   * (`IDEMPOTENCY_TTL_SEC`, default 86400).
   */
  idempotencyTtlSec: number;
  /**
   * Limits that protect the other clients: sequences one client may create per second
   * (`CREATE_RATE_PER_SEC`, default 10) and in a burst (`CREATE_BURST`, default 100), and numbers
   * handed out in batches per sequence per second (`BATCH_NUMBERS_PER_SEC`, default 100000000).
   */
  rates: { createPerSec: number; createBurst: number; batchNumbersPerSec: number };
  /** Largest `count` one request may reserve (`BATCH_MAX`, default 100000). */
  batchMax: number;
  /** HTTP listener threads for the API (`WORKERS`, default: number of CPUs). */
  workers: number;
  /** Smallest (and first) block a sequence reserves (`BLOCK_SIZE_MIN`, default 100). */
  blockSizeMin: number;
  /**
   * Largest block a sequence reserves (`BLOCK_SIZE_MAX`, default 10000000). `1` reserves each
   * number when it is asked for and nothing ahead: numbers then follow the store's commit order
   * across replicas, at the store's speed.
   */
  blockSizeMax: number;
  /**
   * One JSON line per API request on stdout (`LOG_REQUESTS`, default `false`): method, path,
   * status, duration, sequence and count; never a header, so never a token.
   */
  logRequests: boolean;
  /**
   * Access tokens (`AUTH_TOKENS_FILE`: SHA-256 digests with scopes, re-read on SIGHUP); unset:
   * tokens are off and anyone who reaches the API may call it.
   */
  authTokensFile: string | undefined;
  /**
   * Certificate chain and private key, PEM (`TLS_CERT_FILE`, `TLS_KEY_FILE`, both or neither):
   * both ports serve HTTPS; unset: HTTP.
   */
  tls: TlsFiles | undefined;
}

/** The PEM files of the certificate chain and its private key. */
export interface TlsFiles {
  /** Certificate chain, leaf first (`TLS_CERT_FILE`). */
  certFile: string;
  /** Private key (`TLS_KEY_FILE`). */
  keyFile: string;
}

/** A configuration value broke its rule; the message names the variable, value and rule. */
export class ConfigError extends Error {
  /** @param message one line naming the variable, its value and the rule it broke. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Reads one environment variable; `undefined` when unset. */
export type EnvReader = (name: string) => string | undefined;

/** The largest block size `BLOCK_SIZE_MIN` and `BLOCK_SIZE_MAX` accept. */
export const BLOCK_SIZE_LIMIT = 1_000_000_000;

function integer(
  env: EnvReader,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const text = raw.trim();
  if (!/^[0-9]+$/.test(text)) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is invalid: must be an integer from ${min} to ${max}`,
    );
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `${name}=${JSON.stringify(raw)} is out of range: must be an integer from ${min} to ${max}`,
    );
  }
  return value;
}

function nonEmpty(env: EnvReader, name: string, fallback: string): string {
  const raw = env(name);
  if (raw === undefined) return fallback;
  if (raw.trim() === "") {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: must not be empty`);
  }
  return raw;
}

/** A path, or `undefined` when unset or empty. */
function optionalPath(env: EnvReader, name: string): string | undefined {
  const raw = env(name);
  return raw === undefined || raw === "" ? undefined : raw;
}

function tlsFiles(env: EnvReader): TlsFiles | undefined {
  const certFile = optionalPath(env, "TLS_CERT_FILE");
  const keyFile = optionalPath(env, "TLS_KEY_FILE");
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    const [set, unset] = certFile === undefined
      ? ["TLS_KEY_FILE", "TLS_CERT_FILE"]
      : ["TLS_CERT_FILE", "TLS_KEY_FILE"];
    throw new ConfigError(
      `${set} is set but ${unset} is not: set both (HTTPS on both ports) or neither (HTTP)`,
    );
  }
  return { certFile, keyFile };
}

/** `true` or `false` (also `1` or `0`); `fallback` when unset or empty. */
function flag(env: EnvReader, name: string, fallback: boolean): boolean {
  const raw = env(name);
  if (raw === undefined || raw.trim() === "") return fallback;
  const text = raw.trim().toLowerCase();
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw new ConfigError(
    `${name}=${JSON.stringify(raw)} is invalid: must be true or false (or 1 or 0)`,
  );
}

function databaseUrl(env: EnvReader): string | undefined {
  const raw = env("DATABASE_URL");
  if (raw === undefined || raw === "") return undefined;
  // Messages show the URL with its password hidden, never the value as given.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1];
  if (scheme === undefined) {
    throw new ConfigError(
      `DATABASE_URL=${
        JSON.stringify(redactUrl(raw))
      } is invalid: must be a URL of the form postgres://user:password@host:port/database`,
    );
  }
  if (scheme.toLowerCase() !== "postgres" && scheme.toLowerCase() !== "postgresql") {
    throw new ConfigError(
      `DATABASE_URL has scheme ${
        JSON.stringify(scheme + ":")
      }: must start with postgres:// or postgresql://`,
    );
  }
  // The URL as libpq reads it (several hosts, socket folders, percent-encoding, a password with
  // "?" or "#"); what the driver cannot honour (sslmode values, client certificates…) is checked
  // when the store opens.
  try {
    parsePostgresUrl(raw);
  } catch (error) {
    if (!(error instanceof PostgresUrlError)) throw error;
    throw new ConfigError(
      `DATABASE_URL=${JSON.stringify(error.redacted)} is invalid: ${error.rule}`,
    );
  }
  return raw;
}

/**
 * Builds the configuration from environment variables.
 *
 * @param env reads one variable (defaults to `Deno.env.get`).
 * @param cpus the default for `WORKERS`.
 * @throws {ConfigError} when a value is not valid.
 */
export function loadConfig(
  env: EnvReader = (name) => Deno.env.get(name),
  cpus: number = navigator.hardwareConcurrency ?? 1,
): Config {
  const apiPort = integer(env, "API_PORT", 3000, 0, 65535);
  const debugPort = integer(env, "DEBUG_PORT", 3001, 0, 65535);
  if (apiPort !== 0 && apiPort === debugPort) {
    throw new ConfigError(
      `API_PORT=${apiPort} and DEBUG_PORT=${debugPort} are invalid: the two ports must differ`,
    );
  }
  const blockSizeMin = integer(env, "BLOCK_SIZE_MIN", 100, 1, BLOCK_SIZE_LIMIT);
  const blockSizeMax = integer(
    env,
    "BLOCK_SIZE_MAX",
    Math.max(10_000_000, blockSizeMin),
    1,
    BLOCK_SIZE_LIMIT,
  );
  if (blockSizeMin > blockSizeMax) {
    throw new ConfigError(
      `BLOCK_SIZE_MIN=${blockSizeMin} and BLOCK_SIZE_MAX=${blockSizeMax} are invalid: ` +
        `BLOCK_SIZE_MIN must not exceed BLOCK_SIZE_MAX`,
    );
  }
  const dataDir = nonEmpty(env, "DATA_DIR", "./data");
  const url = databaseUrl(env);
  const poolSize = integer(env, "DATABASE_POOL_SIZE", 4, 1, 100);
  return {
    apiPort,
    debugPort,
    debugHost: nonEmpty(env, "DEBUG_HOST", "127.0.0.1"),
    shutdownTimeoutSec: integer(env, "SHUTDOWN_TIMEOUT_SEC", 20, 1, 3600),
    environment: nonEmpty(env, "ENVIRONMENT", "development"),
    dataDir,
    store: url === undefined
      ? { kind: "sqlite", dataDir }
      : { kind: "postgres", url, poolSize, dataDir },
    apiHost: nonEmpty(env, "API_HOST", "0.0.0.0"),
    lockDir: nonEmpty(env, "LOCK_DIR", "/tmp"),
    http: {
      maxConnections: integer(env, "HTTP_MAX_CONNECTIONS", 4096, 1, 1_000_000),
      headerTimeoutMs: integer(env, "HTTP_HEADER_TIMEOUT_SEC", 10, 1, 3600) * 1000,
      idleTimeoutMs: integer(env, "HTTP_IDLE_TIMEOUT_SEC", 60, 1, 3600) * 1000,
      bodyTimeoutMs: integer(env, "HTTP_BODY_TIMEOUT_SEC", 30, 1, 3600) * 1000,
    },
    sequencesMax: integer(env, "SEQUENCES_MAX", SEQUENCE_CAPACITY, 2, 1_000_000),
    idempotencyTtlSec: integer(env, "IDEMPOTENCY_TTL_SEC", 86_400, 1, 31_536_000),
    rates: {
      createPerSec: integer(env, "CREATE_RATE_PER_SEC", 10, 1, 1_000_000),
      createBurst: integer(env, "CREATE_BURST", 100, 1, 1_000_000),
      batchNumbersPerSec: integer(env, "BATCH_NUMBERS_PER_SEC", 100_000_000, 1, 1_000_000_000_000),
    },
    batchMax: integer(env, "BATCH_MAX", 100_000, 1, 10_000_000),
    workers: integer(env, "WORKERS", Math.max(1, Math.min(cpus, 64)), 1, 64),
    blockSizeMin,
    blockSizeMax,
    logRequests: flag(env, "LOG_REQUESTS", false),
    authTokensFile: optionalPath(env, "AUTH_TOKENS_FILE"),
    tls: tlsFiles(env),
  };
}

/** The configuration as log fields, with the database password hidden. */
export function describeConfig(config: Config): Record<string, unknown> {
  const { store } = config;
  return {
    ...config,
    store: store.kind === "postgres" ? { ...store, url: redactUrl(store.url) } : store,
  };
}
