/**
 * The shared store: PostgreSQL through `npm:postgres`, for several replicas that must never hand
 * out the same number. A block is claimed with one atomic `UPDATE … RETURNING` on the sequence's
 * row, so replicas get disjoint blocks without coordinating among themselves; PostgreSQL's row
 * lock orders concurrent claims and each claim starts where the previous committed one ended.
 *
 * The schema is created or migrated at startup inside one transaction that holds a
 * transaction-level advisory lock, so replicas starting together on an empty database queue up
 * instead of racing; `sequencer_schema` records the version.
 *
 * Every change (floor raised, retired, revived, merged) first locks the one row of
 * `sequencer_version` and raises it in the same transaction: changes are numbered in commit order
 * ({@link PostgresStore.changes}), and since every changing transaction takes that lock before any
 * sequence's row, they never deadlock. Reservations never take it.
 *
 * Every operation has a deadline: connection failures, a server shutting down, and a server or
 * network that stops answering all become an `unavailable` {@link SequencerError} within seconds, never a
 * hang. The pool reconnects on its own once PostgreSQL is back; after a deadline passes, the pool is
 * replaced so that connections stuck on a dead network are not reused.
 *
 * Every int8 travels as a `bigint`, exact up to {@link INT64_MAX}.
 *
 * @module
 */
import tls from "node:tls";
import postgres from "postgres";
import type { Logger } from "../log/log.ts";
import {
  type Block,
  type ChangeResult,
  type CreateResult,
  DEFAULT_SEQUENCE,
  exhausted,
  INT64_MAX,
  invalid,
  type KeyedAnswer,
  type ListPage,
  notFound,
  type Numbering,
  retired,
  type SequenceRecord,
  SequencerError,
  START_MIN,
  unavailable,
} from "../domain/domain.ts";
import {
  type Changes,
  CHANGES_LIMIT,
  checkExportRecord,
  checkLease,
  checkPage,
  checkReplica,
  completeChanges,
  type ExportRecord,
  MERGE_BATCH,
  mergeChange,
  type MergeResult,
  mergeTarget,
  periodRange,
  rowRecord,
  type SequenceRow,
  type Store,
} from "./store.ts";
import { hideSecret, parsePostgresUrl, PostgresUrlError, redactUrl } from "./postgres_url.ts";

/** The schema version this build creates and understands. */
export const POSTGRES_SCHEMA_VERSION = 4;

/** Key of the advisory lock that serializes schema migrations across replicas. */
const MIGRATION_LOCK_KEY = 7_305_813_927_164_420_311n;

/**
 * Schema migrations; entry `i` (statements run in order) brings the schema from version `i` to
 * `i + 1`. Version 2 adds the raise-only `floor` (the start until raised), `retired` and the
 * `version` of each sequence's last change, the store-wide change counter, the replicas'
 * heartbeats and the store's meta data; 3 the answers of keyed requests; 4 each sequence's
 * numbering settings (`reset`, `timezone`, `format`; a period's sub-sequence is a row of its own
 * named `name@period`).
 */
export const POSTGRES_MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE sequencer_sequences (
       name  text COLLATE "C" PRIMARY KEY,
       start bigint NOT NULL CHECK (start > -9223372036854775808),
       upper bigint NOT NULL,
       CHECK (upper >= start - 1)
     )`,
  ],
  [
    `ALTER TABLE sequencer_sequences
       ADD COLUMN floor bigint,
       ADD COLUMN retired boolean NOT NULL DEFAULT false,
       ADD COLUMN version bigint NOT NULL DEFAULT 0`,
    `UPDATE sequencer_sequences SET floor = start`,
    `ALTER TABLE sequencer_sequences
       ALTER COLUMN floor SET NOT NULL,
       ADD CHECK (floor >= start),
       ADD CHECK (upper >= floor - 1)`,
    `CREATE INDEX sequencer_sequences_version ON sequencer_sequences (version)`,
    // A row inserted without a floor (by a replica of the previous build, during a rolling
    // upgrade) gets its start.
    `CREATE FUNCTION sequencer_default_floor() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.floor := coalesce(NEW.floor, NEW.start);
         RETURN NEW;
       END $$`,
    `CREATE TRIGGER sequencer_default_floor BEFORE INSERT ON sequencer_sequences
       FOR EACH ROW EXECUTE FUNCTION sequencer_default_floor()`,
    `CREATE TABLE sequencer_version (
       id      boolean PRIMARY KEY DEFAULT true CHECK (id),
       version bigint NOT NULL
     )`,
    `INSERT INTO sequencer_version (id, version) VALUES (true, 0)`,
    `CREATE TABLE sequencer_replicas (
       replica text PRIMARY KEY,
       applied bigint NOT NULL,
       seen    timestamptz NOT NULL
     )`,
    `CREATE INDEX sequencer_replicas_seen ON sequencer_replicas (seen)`,
    `CREATE TABLE sequencer_meta (
       key   text PRIMARY KEY,
       value text NOT NULL
     )`,
    `INSERT INTO sequencer_meta (key, value)
       VALUES ('store_id', gen_random_uuid()::text), ('created', now()::text)`,
  ],
  [
    `CREATE TABLE sequencer_answers (
       key         text COLLATE "C" PRIMARY KEY,
       fingerprint text NOT NULL,
       status      integer NOT NULL,
       body        text NOT NULL,
       stored      timestamptz NOT NULL DEFAULT clock_timestamp()
     )`,
    `CREATE INDEX sequencer_answers_stored ON sequencer_answers (stored)`,
  ],
  [
    `ALTER TABLE sequencer_sequences
       ADD COLUMN reset text NOT NULL DEFAULT 'never'
         CHECK (reset IN ('never', 'yearly', 'monthly', 'daily')),
       ADD COLUMN timezone text NOT NULL DEFAULT 'UTC',
       ADD COLUMN format text`,
  ],
];

/** Default deadline of one store operation, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5_000;
/** Default time allowed to open one connection, in seconds (a URL's `connect_timeout` wins). */
export const DEFAULT_CONNECT_TIMEOUT_S = 5;

/** Options of {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** Most connections the pool opens (at least 1). */
  poolSize: number;
  /** Where connection trouble is reported; nothing is logged without it. */
  logger?: Logger;
  /**
   * Deadline of one operation in milliseconds (default {@link DEFAULT_TIMEOUT_MS}); past it the
   * operation fails with an `unavailable` {@link SequencerError} and the pool is replaced.
   */
  timeoutMs?: number;
}

/** The database holds a schema this build cannot use: not ours, or newer than this build. */
export class PostgresSchemaError extends Error {
  /** @param message what is wrong. @param options the cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PostgresSchemaError";
  }
}

type Sql = postgres.Sql<{ bigint: bigint }>;

type Row = SequenceRow<boolean>;

/** Where and how to connect, from a libpq URL; see {@link connectionOptions}. */
export interface ConnectionOptions {
  /** The user name, if the URL gives one (else the driver's default: `PGUSER`, the OS user). */
  user?: string;
  /** The password, if the URL gives one (never log it). */
  password?: string;
  /** The hosts in order (`localhost` for an empty one), or one unix socket folder. */
  hosts: string[];
  /** The port of each host. */
  ports: number[];
  /** The unix socket file, when the host is a socket folder. */
  path?: string;
  /** The database, if the URL gives one (else the driver's default: the user name). */
  database?: string;
  /** `target_session_attrs`, if other than libpq's default `any`. */
  targetSessionAttrs?: TargetSessionAttrs;
  /** Parameters sent to the server as run-time settings (e.g. `application_name`). */
  settings: Record<string, string>;
  /** The URL with its password replaced by `***`, for logs and messages. */
  redacted: string;
  /** The TLS setting for the driver: `false`, `"prefer"`, `"require"`, or `tls.connect` options. */
  ssl: false | "prefer" | "require" | Record<string, unknown>;
  /** The `sslmode` in effect (libpq's default is `prefer`). */
  sslmode: SslMode;
  /** Seconds allowed to open one connection. */
  connectTimeout: number;
  /** Parameters that are ignored because the driver has no use for them. */
  ignored: string[];
}

/** The `target_session_attrs` values the driver honours (libpq's `any` is the default). */
export type TargetSessionAttrs =
  | "read-write"
  | "read-only"
  | "primary"
  | "standby"
  | "prefer-standby";
const TARGET_SESSION_ATTRS: readonly string[] = [
  "read-write",
  "read-only",
  "primary",
  "standby",
  "prefer-standby",
];

/** The port of a host the URL gives none for: `PGPORT`, else 5432 (as libpq and the driver). */
function defaultPort(): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("PGPORT");
  } catch { /* no permission to read it: the default */ }
  const port = Number(text);
  return text !== undefined && /^\d+$/.test(text) && port >= 1 && port <= 65535 ? port : 5432;
}

/** The `sslmode` values of libpq. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
const SSL_MODES: readonly SslMode[] = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
];

/** libpq parameters the driver cannot honour and that are safe to leave out. */
const IGNORED_PARAMETERS = new Set([
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "fallback_application_name",
  "sslcompression",
  "sslsni",
]);
/** libpq parameters whose request the driver cannot honour: refused rather than ignored. */
const UNSUPPORTED_PARAMETERS = new Set([
  "sslcert",
  "sslkey",
  "sslpassword",
  "sslcrl",
  "sslcrldir",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "requirepeer",
  "gssencmode",
  "gsslib",
  "krbsrvname",
  "channel_binding",
  "passfile",
  "service",
  "hostaddr",
  "replication",
  "load_balance_hosts",
  "requiressl",
  "require_auth",
]);
/** Values of some unsupported parameters that ask for nothing and so are accepted. */
const HARMLESS_VALUES: Record<string, readonly string[]> = {
  gssencmode: ["disable", "prefer"],
  channel_binding: ["disable", "prefer"],
};

/**
 * Reads a libpq URL (`postgres://user:password@host:port/db?sslmode=…`, see `postgres_url.ts`)
 * into what the driver is given: user, password, hosts, ports and database as options of their own
 * (never re-encoded into a URL). `sslmode` keeps libpq's meaning (default `prefer`): `disable`
 * plain; `allow` and `prefer` TLS when the server offers it, unverified; `require` TLS, unverified
 * unless `sslrootcert` is given (then as `verify-ca`); `verify-ca` checks the certificate chain
 * against `sslrootcert` (a PEM file, or `system`); `verify-full` also checks the host name.
 * `connect_timeout` (seconds) and `target_session_attrs` are honoured; a few libpq-only parameters
 * that ask for nothing are ignored; ones asking for something the driver cannot do (client
 * certificates, channel binding, GSSAPI, service files…) are refused. Other parameters are sent to
 * the server as run-time settings (e.g. `application_name`, `search_path`).
 * @throws {PostgresUrlError} naming the parameter and the rule it breaks, never the password.
 */
export async function connectionOptions(url: string): Promise<ConnectionOptions> {
  const parsed = parsePostgresUrl(url);
  const redacted = redactUrl(url);
  const settings: Record<string, string> = {};
  const ignored: string[] = [];
  let sslmode: SslMode = "prefer";
  let rootcert: string | undefined;
  let connectTimeout = DEFAULT_CONNECT_TIMEOUT_S;
  let targetSessionAttrs: TargetSessionAttrs | undefined;
  const bad = (name: string, value: string, rule: string) =>
    new PostgresUrlError(url, `parameter ${name}=${JSON.stringify(value)} is invalid: ${rule}`);
  for (const [name, value] of parsed.params) {
    switch (name) {
      case "sslmode":
        if (!(SSL_MODES as readonly string[]).includes(value)) {
          throw bad(name, value, `must be one of ${SSL_MODES.join(", ")}`);
        }
        sslmode = value as SslMode;
        break;
      case "sslrootcert":
        if (value === "") throw bad(name, value, "must name a PEM file or be 'system'");
        rootcert = value;
        break;
      case "connect_timeout": {
        const seconds = Number(value);
        if (!/^\d+$/.test(value) || seconds < 1 || seconds > 3600) {
          throw bad(name, value, "must be a whole number of seconds from 1 to 3600");
        }
        connectTimeout = seconds;
        break;
      }
      case "target_session_attrs":
        if (value === "any") {
          targetSessionAttrs = undefined;
        } else if (TARGET_SESSION_ATTRS.includes(value)) {
          targetSessionAttrs = value as TargetSessionAttrs;
        } else {
          throw bad(name, value, `must be one of any, ${TARGET_SESSION_ATTRS.join(", ")}`);
        }
        break;
      default:
        if (IGNORED_PARAMETERS.has(name) || HARMLESS_VALUES[name]?.includes(value)) {
          ignored.push(name);
        } else if (UNSUPPORTED_PARAMETERS.has(name)) {
          throw bad(name, value, "is not supported by the PostgreSQL driver; remove it");
        } else {
          settings[name] = value;
        }
    }
  }
  if (rootcert !== undefined && sslmode === "require") sslmode = "verify-ca";
  if (rootcert !== undefined && (sslmode === "allow" || sslmode === "prefer")) {
    // libpq reads sslrootcert only when it verifies; so do we.
    ignored.push("sslrootcert");
    rootcert = undefined;
  }
  if (rootcert === undefined && sslmode === "verify-ca") {
    throw bad(
      "sslmode",
      sslmode,
      "needs sslrootcert (a PEM file with the CA, or 'system') to verify against",
    );
  }
  let ca: string | undefined;
  if (rootcert !== undefined && rootcert !== "system") {
    try {
      ca = await Deno.readTextFile(rootcert);
    } catch (error) {
      throw bad("sslrootcert", rootcert, `cannot be read: ${describe(error)}`);
    }
  }
  const hosts = parsed.hosts.map((host) => host === "" ? "localhost" : host);
  const ports = parsed.ports.map((port) => port ?? defaultPort());
  const socket = hosts.some((host) => host.startsWith("/"));
  if (socket && hosts.length > 1) {
    throw new PostgresUrlError(
      url,
      "a unix socket folder cannot be one of several hosts (the driver cannot try it in turn)",
    );
  }
  let ssl: ConnectionOptions["ssl"];
  switch (sslmode) {
    case "disable":
      ssl = false;
      break;
    case "allow":
    case "prefer":
      // TLS is not offered on unix sockets.
      ssl = socket ? false : "prefer";
      break;
    case "require":
      ssl = "require";
      break;
    case "verify-ca":
      ssl = {
        rejectUnauthorized: true,
        ...(ca === undefined ? {} : { ca }),
        checkServerIdentity: () => undefined,
      };
      break;
    case "verify-full": {
      // The driver leaves the name to check unset for IP addresses, and node:tls then checks
      // "localhost"; so check the URL's own host names (any of them, for a multi-host URL).
      ssl = {
        rejectUnauthorized: true,
        ...(ca === undefined ? {} : { ca }),
        checkServerIdentity: (_name: string, cert: tls.PeerCertificate) => {
          let mismatch: Error | undefined;
          for (const name of hosts) {
            mismatch = tls.checkServerIdentity(name, cert);
            if (mismatch === undefined) return undefined;
          }
          return mismatch;
        },
      };
      break;
    }
  }
  return {
    ...(parsed.user === undefined ? {} : { user: parsed.user }),
    ...(parsed.password === undefined ? {} : { password: parsed.password }),
    hosts,
    ports,
    ...(socket ? { path: `${hosts[0]}/.s.PGSQL.${ports[0]}` } : {}),
    ...(parsed.database === undefined ? {} : { database: parsed.database }),
    ...(targetSessionAttrs === undefined ? {} : { targetSessionAttrs }),
    settings,
    redacted,
    ssl,
    sslmode,
    connectTimeout,
    ignored,
  };
}

/** The PostgreSQL store. Open it with {@link openPostgresStore}. */
export class PostgresStore implements Store {
  /** Always `postgres`. */
  readonly kind = "postgres";
  #connect: () => Sql;
  #sql: Sql;
  #timeoutMs: number;
  #logger: Logger | undefined;
  #where: string;
  #secret: string | undefined;
  #closed = false;
  #ending = new Set<Promise<void>>();

  /**
   * @param connect makes a new pool (called again to replace a pool after a deadline passed).
   * @param options `timeoutMs`: deadline of one operation; `where`: the redacted URL, for
   * messages; `secret`: the password, hidden from every message; `logger`: where replacing a pool
   * is reported.
   */
  constructor(
    connect: () => Sql,
    options: { timeoutMs: number; where: string; secret?: string; logger?: Logger },
  ) {
    this.#connect = connect;
    this.#sql = connect();
    this.#timeoutMs = options.timeoutMs;
    this.#where = options.where;
    this.#secret = options.secret;
    this.#logger = options.logger;
  }

  /**
   * Runs `body` on the current pool within the deadline. Sequence errors pass through; every other
   * failure is a an `unavailable` {@link SequencerError} naming `what`.
   */
  async #run<T>(what: string, body: (sql: Sql) => Promise<T>): Promise<T> {
    if (this.#closed) throw unavailable(`postgres store: ${what} failed: the store is closed`);
    const sql = this.#sql;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = Symbol("expired");
    const deadline = new Promise<typeof expired>((resolve) => {
      timer = setTimeout(() => resolve(expired), this.#timeoutMs);
    });
    const work = body(sql);
    try {
      const outcome = await Promise.race([work, deadline]);
      if (outcome === expired) {
        work.catch(() => {/* it failed after we stopped waiting; nothing was answered */});
        this.#replace(sql, what);
        throw unavailable(
          `postgres store: ${what} failed: PostgreSQL at ${this.#where} did not answer within ` +
            `${this.#timeoutMs} ms`,
        );
      }
      return outcome as T;
    } catch (error) {
      if (error instanceof SequencerError || error instanceof PostgresSchemaError) throw error;
      throw unavailable(
        `postgres store: ${what} failed at ${this.#where}: ${
          hideSecret(describe(error), this.#secret)
        }`,
        error,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Replaces a pool that let a deadline pass; its connections may be stuck on a dead network. */
  #replace(stale: Sql, what: string): void {
    if (this.#closed || this.#sql !== stale) return;
    this.#sql = this.#connect();
    this.#logger?.warn("postgres store: no answer in time, replacing the connection pool", {
      operation: what,
      timeoutMs: this.#timeoutMs,
      database: this.#where,
    });
    this.#end(stale, 0);
  }

  #end(sql: Sql, timeoutSeconds: number): Promise<void> {
    const ending = sql.end({ timeout: timeoutSeconds }).catch(() => {});
    this.#ending.add(ending);
    ending.finally(() => this.#ending.delete(ending));
    return ending;
  }

  /** Durably raises the bound with one atomic statement; see {@link Store.reserve}. */
  reserve(name: string, size: bigint): Promise<Block> {
    if (size < 1n) {
      return Promise.reject(new RangeError(`size=${size} is invalid: must be at least 1`));
    }
    return this.#run(`reserve on ${JSON.stringify(name)}`, async (sql) => {
      // One statement: lock the row, read its bound, raise it (clamped at INT64_MAX exactly as
      // raiseBound does; numeric so that no intermediate overflows), and return both bounds.
      const rows = await sql<{ previous: bigint; upper: bigint }[]>`
        WITH current AS (
          SELECT upper FROM sequencer_sequences
           WHERE name = ${name} AND NOT retired
             FOR UPDATE
        )
        UPDATE sequencer_sequences AS s
           SET upper = CASE
                 WHEN 9223372036854775807::numeric - c.upper < ${size.toString()}::numeric
                   THEN 9223372036854775807::bigint
                 ELSE (c.upper + ${size.toString()}::numeric)::bigint
               END
          FROM current AS c
         WHERE s.name = ${name} AND c.upper < 9223372036854775807::bigint
        RETURNING c.upper AS previous, s.upper AS upper`;
      if (rows.length === 1) return { first: rows[0].previous + 1n, last: rows[0].upper };
      const [row] = await sql<{ upper: bigint; retired: boolean }[]>`
        SELECT upper, retired FROM sequencer_sequences WHERE name = ${name}`;
      if (row === undefined) throw notFound(name);
      if (row.retired) throw retired(name);
      if (row.upper >= INT64_MAX) throw exhausted(name, 0n, size);
      throw new Error(`the bound of ${JSON.stringify(name)} could not be raised`);
    });
  }

  /**
   * Stores keyed answers in one statement (one commit for all of them), keeping any stored
   * earlier for the same key; see {@link Store.saveAnswers}.
   */
  saveAnswers(answers: KeyedAnswer[]): Promise<KeyedAnswer[]> {
    if (answers.length === 0) return Promise.resolve([]);
    return this.#run(`storing ${answers.length} keyed answers`, async (sql) => {
      const inserted = await sql<{ key: string }[]>`
        INSERT INTO sequencer_answers (key, fingerprint, status, body)
        SELECT DISTINCT ON (key) key, fingerprint, status, body
          FROM jsonb_to_recordset(${JSON.stringify(answers)}::text::jsonb)
            AS g(key text, fingerprint text, status integer, body text)
        ON CONFLICT (key) DO NOTHING
        RETURNING key`;
      const mine = new Set(inserted.map((row) => row.key));
      const others = answers.filter((a) => !mine.has(a.key)).map((a) => a.key);
      // Stored before, or by another process committing the same key at the same moment (a
      // new statement sees its committed row).
      const earlier = others.length === 0 ? [] : await sql<KeyedAnswer[]>`
        SELECT key, fingerprint, status, body FROM sequencer_answers
         WHERE key IN (SELECT jsonb_array_elements_text(${JSON.stringify(others)}::text::jsonb))`;
      const stored = new Map(earlier.map((row) => [row.key, row]));
      return answers.map((answer) => stored.get(answer.key) ?? answer);
    });
  }

  /** Deletes expired keyed answers; see {@link Store.purgeAnswers}. */
  purgeAnswers(ttlMs: number, limit: number): Promise<number> {
    return this.#run("purge of keyed answers", async (sql) => {
      const rows = await sql`
        DELETE FROM sequencer_answers WHERE key IN (
          SELECT key FROM sequencer_answers
           WHERE stored <= clock_timestamp() - ${ttlMs} * interval '1 millisecond'
           ORDER BY stored LIMIT ${limit})
        RETURNING key`;
      return rows.length;
    });
  }

  /**
   * Lowers the bound back to `to` (never below `floor - 1`) with one compare-and-set against
   * `expected`; see {@link Store.giveBack}.
   */
  giveBack(name: string, expected: bigint, to: bigint): Promise<boolean> {
    return this.#run(`give-back on ${JSON.stringify(name)}`, async (sql) => {
      const rows = await sql`
        UPDATE sequencer_sequences
           SET upper = GREATEST(${to}::bigint, floor - 1)
         WHERE name = ${name} AND upper = ${expected}::bigint AND NOT retired
           AND GREATEST(${to}::bigint, floor - 1) < upper
        RETURNING upper`;
      return rows.length === 1;
    });
  }

  /**
   * Creates a sequence unless it exists, or revives a retired one whose bound lies below
   * `start`; safe across replicas; see {@link Store.create}.
   */
  create(name: string, start: bigint, numbering?: Numbering): Promise<CreateResult> {
    if (start < START_MIN || start > INT64_MAX) {
      return Promise.reject(
        new RangeError(`start=${start} is invalid: must be from ${START_MIN} to ${INT64_MAX}`),
      );
    }
    const reset = numbering?.reset ?? "never";
    const timezone = numbering?.timezone ?? "UTC";
    const format = numbering?.format ?? null;
    return this.#run(`create of ${JSON.stringify(name)}`, async (sql) => {
      const inserted = await sql<Row[]>`
        INSERT INTO sequencer_sequences (name, start, upper, floor, reset, timezone, format)
        VALUES (${name}, ${start}, ${start - 1n}, ${start}, ${reset}, ${timezone}, ${format})
        ON CONFLICT (name) DO NOTHING
        RETURNING name, start, upper, floor, retired, version, reset, timezone, format`;
      if (inserted.length === 1) return { created: true, record: record(inserted[0]) };
      const existing = await selectRow(sql, name);
      if (existing === undefined) {
        throw new Error(`${JSON.stringify(name)} neither could be inserted nor exists`);
      }
      if (!existing.retired || start <= existing.upper) {
        return { created: false, record: record(existing) };
      }
      return await sql.begin(async (tx) => {
        const version = await lockVersion(tx);
        const [revived] = await tx<Row[]>`
          UPDATE sequencer_sequences
             SET start = ${start}, upper = ${start - 1n}, floor = ${start}, retired = false,
                 version = ${version + 1n}, reset = ${reset}, timezone = ${timezone},
                 format = ${format}
           WHERE name = ${name} AND retired AND upper < ${start}
          RETURNING name, start, upper, floor, retired, version, reset, timezone, format`;
        if (revived === undefined) {
          // Revived (or its bound raised) by another process since: as it is now.
          return { created: false, record: record((await selectRow(tx, name))!) };
        }
        await setVersion(tx, version + 1n);
        return { created: true, record: record(revived) };
      });
    });
  }

  /** One sequence; see {@link Store.get}. */
  get(name: string): Promise<SequenceRecord | undefined> {
    return this.#run(`read of ${JSON.stringify(name)}`, async (sql) => {
      const row = await selectRow(sql, name);
      return row === undefined ? undefined : record(row);
    });
  }

  /** One page of sequences, in byte order of their names; see {@link Store.list}. */
  list(page: ListPage): Promise<SequenceRecord[]> {
    try {
      checkPage(page);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run("list of sequences", async (sql) => {
      const rows = await sql<Row[]>`
        SELECT name, start, upper, floor, retired, version, reset, timezone, format
          FROM sequencer_sequences
         WHERE name > ${page.after ?? ""}
           AND (${page.hidePeriods !== true} OR strpos(name, '@') = 0)
         ORDER BY name COLLATE "C"
         LIMIT ${page.limit}`;
      return rows.map(record);
    });
  }

  /** Raises a floor; see {@link Store.raiseFloor}. */
  raiseFloor(name: string, floor: bigint): Promise<ChangeResult> {
    if (typeof floor !== "bigint" || floor > INT64_MAX) {
      return Promise.reject(invalid(`floor=${floor} is invalid: must be at most ${INT64_MAX}`));
    }
    return this.#run(`floor of ${JSON.stringify(name)}`, (sql) =>
      sql.begin(async (tx) => {
        const version = await lockVersion(tx);
        const row = await selectRow(tx, name);
        if (row === undefined) throw notFound(name);
        if (floor <= row.floor) return { record: record(row), changed: false };
        const [raised] = await tx<Row[]>`
          UPDATE sequencer_sequences
             SET floor = ${floor}, upper = GREATEST(upper, ${floor - 1n}),
                 version = ${version + 1n}
           WHERE name = ${name}
          RETURNING name, start, upper, floor, retired, version, reset, timezone, format`;
        await setVersion(tx, version + 1n);
        return { record: record(raised), changed: true };
      }));
  }

  /**
   * Retires a sequence, and with it every period of it (their bound is then the highest any
   * period reached, so a revival starts above all of them); see {@link Store.retire}.
   */
  retire(name: string): Promise<ChangeResult> {
    const [low, high] = periodRange(name);
    return this.#run(`retirement of ${JSON.stringify(name)}`, (sql) =>
      sql.begin(async (tx) => {
        const version = await lockVersion(tx);
        const row = await selectRow(tx, name);
        if (row === undefined) throw notFound(name);
        // Waits for reservations of the periods in flight, and sees their bounds.
        const periods = await tx<{ upper: bigint }[]>`
          UPDATE sequencer_sequences SET retired = true, version = ${version + 1n}
           WHERE name >= ${low} AND name < ${high} AND NOT retired
          RETURNING upper`;
        if (row.retired && periods.length === 0) return { record: record(row), changed: false };
        const [done] = await tx<Row[]>`
          UPDATE sequencer_sequences AS s
             SET retired = true, version = ${version + 1n},
                 upper = GREATEST(s.upper, coalesce((
                   SELECT max(p.upper) FROM sequencer_sequences AS p
                    WHERE p.name >= ${low} AND p.name < ${high}), s.upper))
           WHERE s.name = ${name}
          RETURNING name, start, upper, floor, retired, version, reset, timezone, format`;
        await setVersion(tx, version + 1n);
        return { record: record(done), changed: !row.retired };
      }));
  }

  /**
   * What changed after `since`, and the current version, from one statement (one snapshot); see
   * {@link Store.changes}.
   */
  changes(since: bigint): Promise<Changes> {
    if (typeof since !== "bigint" || since < 0n) {
      return Promise.reject(invalid(`since=${since} is invalid: must be a version from 0`));
    }
    return this.#run("read of changes", async (sql) => {
      const rows = await sql<({ current: bigint } & { [K in keyof Row]: Row[K] | null })[]>`
        SELECT v.version AS current,
               s.name, s.start, s.upper, s.floor, s.retired, s.version,
               s.reset, s.timezone, s.format
          FROM sequencer_version AS v
          LEFT JOIN sequencer_sequences AS s ON s.version > ${since}
         ORDER BY s.version, s.name COLLATE "C"
         LIMIT ${CHANGES_LIMIT + 1}`;
      return completeChanges(
        rows[0].current,
        rows.flatMap((row) => row.name === null ? [] : [record(row as Row)]),
      );
    });
  }

  /** Records a heartbeat and purges day-old ones; see {@link Store.heartbeat}. */
  heartbeat(replica: string, applied: bigint): Promise<void> {
    try {
      checkReplica(replica, applied);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run("heartbeat", async (sql) => {
      await sql`
        WITH purged AS (
          DELETE FROM sequencer_replicas
           WHERE seen < clock_timestamp() - interval '1 day' AND replica <> ${replica}
        )
        INSERT INTO sequencer_replicas AS r (replica, applied, seen)
        VALUES (${replica}, ${applied}, clock_timestamp())
        ON CONFLICT (replica) DO UPDATE
           SET applied = GREATEST(r.applied, excluded.applied), seen = excluded.seen`;
    });
  }

  /** Live replicas behind `version`; see {@link Store.lagging}. */
  lagging(version: bigint, leaseMs: number): Promise<string[]> {
    try {
      checkLease(version, leaseMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run("read of lagging replicas", async (sql) => {
      const rows = await sql<{ replica: string }[]>`
        SELECT replica FROM sequencer_replicas
         WHERE applied < ${version}
           AND seen >= clock_timestamp() - ${leaseMs} * interval '1 millisecond'
         ORDER BY replica COLLATE "C"`;
      return rows.map((row) => row.replica);
    });
  }

  /**
   * Raise-only merge in transactions of up to {@link MERGE_BATCH} sequences, each holding the
   * version lock, so merges running at once in several processes queue up; see
   * {@link Store.merge}.
   */
  async merge(records: ExportRecord[]): Promise<MergeResult> {
    for (const record of records) checkExportRecord(record);
    const result: MergeResult = { created: [], raised: [], retired: [] };
    for (let i = 0; i < records.length; i += MERGE_BATCH) {
      const batch = records.slice(i, i + MERGE_BATCH);
      const merged = await this.#run("merge", (sql) => mergeBatch(sql, batch));
      result.created.push(...merged.created);
      result.raised.push(...merged.raised);
      result.retired.push(...merged.retired);
    }
    return result;
  }

  /**
   * Creates or migrates the schema to {@link POSTGRES_SCHEMA_VERSION} and makes sure `default`
   * exists; idempotent, and serialized across replicas by an advisory lock.
   * {@link openPostgresStore} calls it.
   * @throws {PostgresSchemaError} the schema is newer than this build, or not ours.
   * @throws {SequencerError} `unavailable`: PostgreSQL failed or did not answer in time.
   */
  migrate(): Promise<{ before: number; now: number }> {
    return this.#run("schema migration", migrate);
  }

  /** Reads the server's clock (`clock_timestamp()`, ms since the epoch); see {@link Store.ping}. */
  ping(): Promise<number> {
    return this.#run("ping", async (sql) => {
      const [{ now }] = await sql<{ now: string }[]>`
        SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8::text AS now`;
      return Number(now);
    });
  }

  /**
   * Ends the pool: running queries get up to 2 seconds to finish, then connections are closed.
   * Later operations fail with an `unavailable` {@link SequencerError}. Safe to call twice.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#end(this.#sql, 2);
    }
    while (this.#ending.size > 0) await Promise.all([...this.#ending]);
  }
}

function record(row: Row): SequenceRecord {
  return rowRecord(row, row.retired);
}

type Query = Sql | postgres.TransactionSql<{ bigint: bigint }>;

async function selectRow(sql: Query, name: string): Promise<Row | undefined> {
  const [row] = await sql<Row[]>`
    SELECT name, start, upper, floor, retired, version, reset, timezone, format
          FROM sequencer_sequences
     WHERE name = ${name}`;
  return row;
}

/** Locks the change counter (before any sequence's row) and returns its value. */
async function lockVersion(tx: Query): Promise<bigint> {
  const [{ version }] = await tx<{ version: bigint }[]>`
    SELECT version FROM sequencer_version FOR UPDATE`;
  return version;
}

async function setVersion(tx: Query, version: bigint): Promise<void> {
  await tx`UPDATE sequencer_version SET version = ${version}`;
}

/** Merges one batch in one transaction; see {@link PostgresStore.merge}. */
function mergeBatch(sql: Sql, records: ExportRecord[]): Promise<MergeResult> {
  return sql.begin(async (tx) => {
    const result: MergeResult = { created: [], raised: [], retired: [] };
    const version = await lockVersion(tx);
    // Lists travel as JSON: the driver runs without the server's array types.
    const names = JSON.stringify(records.map((r) => r.name));
    const rows = await tx<Row[]>`
      SELECT name, start, upper, floor, retired, version, reset, timezone, format
          FROM sequencer_sequences
       WHERE name IN (SELECT jsonb_array_elements_text(${names}::text::jsonb))
       ORDER BY name COLLATE "C"
         FOR UPDATE`;
    const current = new Map(rows.map((row) => [row.name, row]));
    const changed = new Map<string, Omit<Row, "version">>();
    for (const input of records) {
      const row = changed.get(input.name) ?? current.get(input.name);
      if (row === undefined) {
        const target = mergeTarget(input);
        changed.set(input.name, {
          name: input.name,
          start: input.start,
          upper: target.upper,
          floor: target.floor,
          retired: input.retired,
          reset: input.reset ?? "never",
          timezone: input.timezone ?? "UTC",
          format: input.format ?? null,
        });
        result.created.push(input.name);
        continue;
      }
      const change = mergeChange(row, input);
      if (change === undefined) continue;
      const { floor, upper, retired } = change;
      changed.set(input.name, { ...row, floor, upper, retired });
      if (change.raised && !result.raised.includes(input.name)) result.raised.push(input.name);
      if (change.retire) result.retired.push(input.name);
    }
    if (changed.size === 0) return result;
    const next = version + 1n;
    const values = JSON.stringify(
      [...changed.values()]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map((v) => ({
          name: v.name,
          start: v.start.toString(),
          upper: v.upper.toString(),
          floor: v.floor.toString(),
          retired: v.retired,
          reset: v.reset,
          timezone: v.timezone,
          format: v.format,
        })),
    );
    // Raise-only even against a create or reservation that committed in between.
    await tx`
      INSERT INTO sequencer_sequences AS s
             (name, start, upper, floor, retired, version, reset, timezone, format)
      SELECT name, start, upper, floor, retired, ${next}, reset, timezone, format
        FROM jsonb_to_recordset(${values}::text::jsonb)
          AS m(name text, start bigint, upper bigint, floor bigint, retired boolean,
               reset text, timezone text, format text)
       ORDER BY name COLLATE "C"
      ON CONFLICT (name) DO UPDATE
         SET floor = GREATEST(s.floor, excluded.floor),
             upper = GREATEST(s.upper, excluded.upper),
             retired = s.retired OR excluded.retired,
             version = excluded.version`;
    await setVersion(tx, next);
    return result;
  });
}

function describe(error: unknown): string {
  if (error instanceof postgres.PostgresError) return `${error.message} (SQLSTATE ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Connects to PostgreSQL at `url` (libpq style, see {@link connectionOptions}), creates or
 * migrates the schema (serialized across replicas by an advisory lock), and makes sure the
 * `default` sequence exists.
 * @throws {RangeError} the URL ({@link PostgresUrlError}) or the options are invalid.
 * @throws {SequencerError} `unavailable`: PostgreSQL cannot be reached or refused the work.
 * @throws {PostgresSchemaError} the database holds a schema that is newer or not ours.
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions,
): Promise<PostgresStore> {
  const { poolSize, logger, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw new RangeError(`poolSize=${poolSize} is invalid: must be a whole number from 1 to 1000`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) {
    throw new RangeError(
      `timeoutMs=${timeoutMs} is invalid: must be a whole number of milliseconds from 100 to ` +
        `600000`,
    );
  }
  const parsed = await connectionOptions(url);
  if (parsed.ignored.length > 0) {
    logger?.warn("postgres store: URL parameters ignored (the driver has no use for them)", {
      parameters: parsed.ignored,
    });
  }
  // Every part is given as an option of its own: the driver never parses (or echoes) the URL.
  // The driver takes lists of hosts and ports (tried in turn); its types say one of each.
  const endpoints = { host: parsed.hosts, port: parsed.ports } as unknown as {
    host: string;
    port: number;
  };
  const connect = (): Sql =>
    postgres({
      ...endpoints,
      ...(parsed.path === undefined ? {} : { path: parsed.path }),
      ...(parsed.user === undefined ? {} : { user: parsed.user }),
      ...(parsed.password === undefined ? {} : { password: parsed.password }),
      ...(parsed.database === undefined ? {} : { database: parsed.database }),
      ...(parsed.targetSessionAttrs === undefined
        ? {}
        : { target_session_attrs: parsed.targetSessionAttrs }),
      max: poolSize,
      ssl: parsed.ssl,
      types: { bigint: postgres.BigInt },
      connect_timeout: parsed.connectTimeout,
      // Close idle connections, so that none lingers half-dead behind a NAT or firewall.
      idle_timeout: 60,
      keep_alive: 15,
      // Reconnect promptly once PostgreSQL is back (the driver waits up to 20 s by default).
      backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
      fetch_types: false,
      onnotice: () => {},
      connection: {
        application_name: "sequencer",
        // The server gives up a little before we do, so a slow but live server cancels cleanly.
        statement_timeout: timeoutMs - Math.min(1_000, Math.floor(timeoutMs / 5)),
        idle_in_transaction_session_timeout: Math.max(timeoutMs * 2, 10_000),
        // The URL's own run-time settings win, as they did when the driver read the URL.
        ...parsed.settings,
      },
    });
  const store = new PostgresStore(connect, {
    timeoutMs,
    where: parsed.redacted,
    ...(parsed.password === undefined ? {} : { secret: parsed.password }),
    ...(logger === undefined ? {} : { logger }),
  });
  try {
    const version = await store.migrate();
    logger?.info("postgres store ready", {
      database: parsed.redacted,
      sslmode: parsed.sslmode,
      poolSize,
      schemaVersion: version.now,
      ...(version.before === version.now ? {} : { migratedFrom: version.before }),
    });
    return store;
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Brings the schema to {@link POSTGRES_SCHEMA_VERSION} and makes sure `default` exists. */
async function migrate(sql: Sql): Promise<{ before: number; now: number }> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`
      CREATE TABLE IF NOT EXISTS sequencer_schema (
        version    integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const [{ version }] = await tx<{ version: number }[]>`
      SELECT coalesce(max(version), 0)::integer AS version FROM sequencer_schema`;
    if (version > POSTGRES_SCHEMA_VERSION) {
      throw new PostgresSchemaError(
        `database schema version ${version} is newer than this build supports ` +
          `(${POSTGRES_SCHEMA_VERSION}); refusing to start rather than misread it`,
      );
    }
    for (let v = version; v < POSTGRES_SCHEMA_VERSION; v++) {
      try {
        for (const statement of POSTGRES_MIGRATIONS[v]) await tx.unsafe(statement);
      } catch (error) {
        if (error instanceof postgres.PostgresError && error.code === "42P07") {
          throw new PostgresSchemaError(
            `the database already holds a table used by the sequencer but no record of its ` +
              `schema (${error.message}); refusing to adopt it rather than risk handing out ` +
              `numbers twice`,
            { cause: error },
          );
        }
        throw error;
      }
      await tx`INSERT INTO sequencer_schema (version) VALUES (${v + 1})`;
    }
    await tx`
      INSERT INTO sequencer_sequences (name, start, upper, floor)
      VALUES (${DEFAULT_SEQUENCE}, 1, 0, 1)
      ON CONFLICT (name) DO NOTHING`;
    return { before: version, now: POSTGRES_SCHEMA_VERSION };
  });
}
