/**
 * The permission flags of `deno run` for the service, derived from its configuration: only what
 * the configured service touches, so a flaw in it (or in a dependency) cannot read, write or
 * connect anywhere else.
 *
 * - **read**: the code (`cmd/`, `internal/`), Deno's cache (source maps of profiles), `DATA_DIR`,
 *   the API port's lock file in `LOCK_DIR`, `AUTH_TOKENS_FILE`, `TLS_CERT_FILE`, `TLS_KEY_FILE`,
 *   and for PostgreSQL its `sslrootcert` file and unix sockets;
 * - **write**: `DATA_DIR`, the lock file, PostgreSQL's unix sockets (the runtime writes its own
 *   cache without a permission check);
 * - **net**: the two listeners (`API_HOST:API_PORT`, `DEBUG_HOST:DEBUG_PORT`; any port of that
 *   address when the port is 0) and each PostgreSQL host and port of `DATABASE_URL` (a unix
 *   socket as `unix:<path>`);
 * - **env**: exactly the variables the configuration reads (recorded while reading it, so a new
 *   variable needs no change here), `SEQUENCER_FAILPOINT`, `DENO_DIR`, `HOME` and
 *   `XDG_CACHE_HOME` (where Deno's cache is), `PG*` and `USER`, `LOGNAME`, `USERNAME` (read by the
 *   PostgreSQL driver);
 * - **sys**: all of it. Profiling connects V8's inspector, which Deno 2.9 checks as the sys kind
 *   `inspector` but refuses in a list (`--allow-sys=hostname,inspector` is "unknown sys
 *   descriptor"), so the flag cannot be narrowed; `Deno.hostname()` (liveness) needs it too.
 *
 * When the configuration is invalid only `--allow-env` is given: the service then reports the
 * invalid value itself, in its usual one line, before touching anything else.
 *
 * @module
 */
import { ConfigError, type EnvReader, loadConfig } from "../config/config.ts";
import { denoDir } from "../profiling/source_map.ts";
import { parsePostgresUrl } from "../store/postgres_url.ts";

/** Variables read outside the configuration (see the module documentation). */
export const EXTRA_ENV: readonly string[] = [
  "SEQUENCER_FAILPOINT",
  "DENO_DIR",
  "HOME",
  "XDG_CACHE_HOME",
  "PG*",
  "USER",
  "LOGNAME",
  "USERNAME",
];

/** Options of {@link permissionFlags}. */
export interface PermissionOptions {
  /** The repository's root folder (holding `cmd/` and `internal/`), absolute. */
  root: string;
  /** For `deno compile`: the code and Deno's cache are inside the binary, so neither is read. */
  compiled?: boolean;
}

/** What {@link permissionFlags} found. */
export interface Permissions {
  /** The flags, e.g. `--allow-read=/app/cmd,/app/internal,/data`. */
  flags: string[];
  /** Paths that cannot be given as a flag (a comma, or blanks that `deno task` would split). */
  unusable: string[];
}

/** `[host]` for an IPv6 address, as `--allow-net` writes it. */
function netHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function listener(host: string, port: number): string {
  return port === 0 ? netHost(host) : `${netHost(host)}:${port}`;
}

/** The port of a PostgreSQL host without one: `PGPORT`, else 5432 (as the store does). */
function defaultPgPort(env: EnvReader): number {
  const text = env("PGPORT");
  const port = Number(text);
  return text !== undefined && /^\d+$/.test(text) && port >= 1 && port <= 65535 ? port : 5432;
}

/**
 * The permission flags of the service configured by `env`.
 * @param env reads one variable (e.g. `Deno.env.get`).
 */
export function permissionFlags(env: EnvReader, options: PermissionOptions): Permissions {
  const read = new Set<string>();
  const names = new Set<string>();
  const recording: EnvReader = (name) => {
    names.add(name);
    return env(name);
  };
  let config;
  try {
    config = loadConfig(recording, 1);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  const envFlag = `--allow-env=${[...new Set([...names, ...EXTRA_ENV])].join(",")}`;
  if (config === undefined) return { flags: [envFlag], unusable: [] };

  const write = new Set<string>([config.dataDir]);
  const net = new Set<string>([
    listener(config.apiHost, config.apiPort),
    listener(config.debugHost, config.debugPort),
  ]);
  if (!options.compiled) {
    const root = options.root.replace(/\/$/, "");
    read.add(`${root}/cmd`).add(`${root}/internal`);
    const cache = denoDir(env);
    if (cache !== undefined) read.add(cache.replace(/\/$/, ""));
  }
  if (config.apiPort !== 0) write.add(`${config.lockDir}/sequencer-api-${config.apiPort}.lock`);
  if (config.authTokensFile !== undefined) read.add(config.authTokensFile);
  if (config.tls !== undefined) read.add(config.tls.certFile).add(config.tls.keyFile);
  if (config.store.kind === "postgres") {
    const url = parsePostgresUrl(config.store.url);
    url.hosts.forEach((raw, i) => {
      const host = raw === "" ? "localhost" : raw;
      const port = url.ports[i] ?? defaultPgPort(env);
      if (host.startsWith("/")) {
        // A unix socket: Deno checks read and write of its path, and net as `unix:<path>`.
        const socket = `${host.replace(/\/$/, "")}/.s.PGSQL.${port}`;
        write.add(socket);
        net.add(`unix:${socket}`);
      } else {
        net.add(`${netHost(host)}:${port}`);
      }
    });
    const rootcert = url.params.findLast(([key]) => key === "sslrootcert")?.[1];
    if (rootcert !== undefined && rootcert !== "" && rootcert !== "system") read.add(rootcert);
  }
  for (const path of write) read.add(path);
  const paths = [...read];
  return {
    flags: [
      `--allow-read=${paths.join(",")}`,
      `--allow-write=${[...write].join(",")}`,
      `--allow-net=${[...net].join(",")}`,
      envFlag,
      "--allow-sys",
    ],
    unusable: paths.filter((path) => /[,\s]/.test(path)),
  };
}
