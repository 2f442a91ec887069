/**
 * The embedded store's schema and its migrations, recorded in SQLite's `user_version`:
 *
 * - 1: `sequences (name, start, upper)`.
 * - 2: per sequence a raise-only `floor` (its start until raised), `retired` and the `version` of
 *   its last change; `counters` (the store-wide change `version`, and the `generation` every
 *   reservation raises); `replicas` (heartbeats of the processes sharing the store); `meta` (the
 *   store id and creation time, and whether the store was moved into PostgreSQL).
 * - 3: `answers`: the stored answers of requests made with an `Idempotency-Key`, for their
 *   retries, with the time they were stored (purged after `IDEMPOTENCY_TTL_SEC`).
 * - 4: per sequence its numbering settings: `reset` (`never`, `yearly`, `monthly`, `daily`),
 *   `timezone` (IANA) and `format` (NULL without one). The sub-sequence of a period is an
 *   ordinary row named `name@period`.
 *
 * A store of an older version migrates in place when it opens, inside one `BEGIN IMMEDIATE`
 * transaction, so two processes opening it at once never both migrate.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/** The schema version this build creates and understands. */
export const SQLITE_SCHEMA_VERSION = 4;

/** Migration `i` brings the schema from version `i` to `i + 1`. */
const MIGRATIONS: readonly ((now: string) => string)[] = [
  () => `
    CREATE TABLE sequences (
      name  TEXT    PRIMARY KEY,
      start INTEGER NOT NULL,
      upper INTEGER NOT NULL
    ) STRICT;`,
  (now) => `
    ALTER TABLE sequences ADD COLUMN floor INTEGER NOT NULL DEFAULT 0;
    UPDATE sequences SET floor = start;
    ALTER TABLE sequences ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sequences ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX sequences_version ON sequences (version);
    -- A row inserted without a floor (by hand, or by an older build) gets its start.
    CREATE TRIGGER sequences_floor AFTER INSERT ON sequences WHEN NEW.floor < NEW.start
    BEGIN
      UPDATE sequences SET floor = NEW.start WHERE name = NEW.name;
    END;
    CREATE TABLE counters (
      name  TEXT    PRIMARY KEY,
      value INTEGER NOT NULL
    ) STRICT;
    INSERT INTO counters (name, value) VALUES ('version', 0), ('generation', 0);
    CREATE TABLE replicas (
      replica TEXT    PRIMARY KEY,
      applied INTEGER NOT NULL,
      seen    REAL    NOT NULL
    ) STRICT;
    CREATE INDEX replicas_seen ON replicas (seen);
    CREATE TABLE meta (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) STRICT;
    INSERT INTO meta (key, value) VALUES ('store_id', '${crypto.randomUUID()}'), ('created', '${now}');`,
  () => `
    CREATE TABLE answers (
      key         TEXT    PRIMARY KEY,
      fingerprint TEXT    NOT NULL,
      status      INTEGER NOT NULL,
      body        TEXT    NOT NULL,
      stored      REAL    NOT NULL
    ) STRICT;
    CREATE INDEX answers_stored ON answers (stored);`,
  () => `
    ALTER TABLE sequences ADD COLUMN reset TEXT NOT NULL DEFAULT 'never'
      CHECK (reset IN ('never', 'yearly', 'monthly', 'daily'));
    ALTER TABLE sequences ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
    ALTER TABLE sequences ADD COLUMN format TEXT;`,
];

/**
 * Creates or migrates the schema of `db` to {@link SQLITE_SCHEMA_VERSION} in one transaction.
 * @returns the version before and after.
 * @throws {Error} the file holds tables of something else, or a newer schema.
 */
export function migrateSqlite(db: DatabaseSync): { before: number; now: number } {
  db.exec("BEGIN IMMEDIATE");
  try {
    const before = Number(
      (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
    );
    if (before === 0) {
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number };
      if (Number(tables.n) !== 0) {
        throw new Error("the file holds tables that are not a sequencer store");
      }
    } else if (before > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `schema version ${before} is newer than this build supports (${SQLITE_SCHEMA_VERSION})`,
      );
    }
    const now = new Date().toISOString();
    for (let version = before; version < SQLITE_SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version](now));
    }
    if (before !== SQLITE_SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION}`);
    db.exec("COMMIT");
    return { before, now: SQLITE_SCHEMA_VERSION };
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** Creates a version-1 store (the schema of earlier builds) in `db`, for migration tests. */
export function createVersion1(db: DatabaseSync): void {
  db.exec(`BEGIN IMMEDIATE; ${MIGRATIONS[0]("")} PRAGMA user_version = 1; COMMIT;`);
}
