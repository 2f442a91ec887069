/**
 * The embedded store: the runtime's built-in SQLite (`node:sqlite`) in `DATA_DIR/sequencer.db`,
 * in WAL mode with `synchronous=FULL`, so a reservation returns only after its commit is on disk.
 * Each reservation is one `BEGIN IMMEDIATE` transaction, which also keeps two processes that
 * share a `DATA_DIR` from ever reserving the same block.
 *
 * SQLite's calls block their thread for the length of an fsync, so the service runs this store on
 * a thread of its own (`sqlite_thread.ts`); {@link openSqliteStoreHere} opens it in the calling
 * thread.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type Block,
  type CreateResult,
  DEFAULT_SEQUENCE,
  errorText,
  exhausted,
  notFound,
  raiseBound,
  type SequenceRecord,
  SequencerError,
  unavailable,
} from "../domain/domain.ts";
import type { Store } from "./store.ts";

/** The database file inside `DATA_DIR`. */
export const SQLITE_FILE = "sequencer.db";

const SCHEMA_VERSION = 1;

interface Row {
  name: string;
  start: bigint;
  upper: bigint;
}

/** The embedded SQLite store. Open it with {@link openSqliteStore}. */
export class SqliteStore implements Store {
  /** Always `sqlite`. */
  readonly kind = "sqlite";
  #db: DatabaseSync;
  #select: StatementSync;
  #update: StatementSync;
  #insert: StatementSync;
  #list: StatementSync;

  /** @param db an open database whose schema is current. */
  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#select = db.prepare("SELECT name, start, upper FROM sequences WHERE name = ?");
    this.#update = db.prepare("UPDATE sequences SET upper = ? WHERE name = ? AND upper = ?");
    this.#insert = db.prepare(
      "INSERT INTO sequences (name, start, upper) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
    );
    this.#list = db.prepare("SELECT name, start, upper FROM sequences ORDER BY name");
    for (const statement of [this.#select, this.#list]) statement.setReadBigInts(true);
  }

  #row(name: string): SequenceRecord | undefined {
    const row = this.#select.get(name) as Row | undefined;
    return row === undefined ? undefined : { name: row.name, start: row.start, upper: row.upper };
  }

  #transaction<T>(what: string, body: () => T): T {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      throw unavailable(`sqlite store: cannot begin ${what}: ${errorText(error)}`, error);
    }
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      } catch { /* the rollback failing leaves nothing committed either */ }
      if (error instanceof SequencerError) throw error;
      throw unavailable(`sqlite store: ${what} failed: ${errorText(error)}`, error);
    }
  }

  /** Durably raises the bound; see {@link Store.reserve}. */
  reserve(name: string, size: bigint): Promise<Block> {
    return Promise.resolve().then(() =>
      this.#transaction(`reserve on ${JSON.stringify(name)}`, () => {
        const row = this.#row(name);
        if (row === undefined) throw notFound(name);
        const upper = raiseBound(row.upper, size);
        if (upper === undefined) throw exhausted(name, 0n, size);
        const changed = this.#update.run(upper, name, row.upper).changes;
        if (Number(changed) !== 1) throw new Error(`bound of ${name} changed during reserve`);
        return { first: row.upper + 1n, last: upper };
      })
    );
  }

  /** Creates a sequence unless it exists; see {@link Store.create}. */
  create(name: string, start: bigint): Promise<CreateResult> {
    return Promise.resolve().then(() =>
      this.#transaction(`create of ${JSON.stringify(name)}`, () => {
        const changes = Number(this.#insert.run(name, start, start - 1n).changes);
        const record = this.#row(name)!;
        return { created: changes === 1, record };
      })
    );
  }

  /** One sequence; see {@link Store.get}. */
  get(name: string): Promise<SequenceRecord | undefined> {
    return Promise.resolve().then(() => {
      try {
        return this.#row(name);
      } catch (error) {
        throw unavailable(`sqlite store: read failed: ${errorText(error)}`, error);
      }
    });
  }

  /** Every sequence; see {@link Store.list}. */
  list(): Promise<SequenceRecord[]> {
    return Promise.resolve().then(() => {
      try {
        return (this.#list.all() as unknown as Row[]).map((row) => ({
          name: row.name,
          start: row.start,
          upper: row.upper,
        }));
      } catch (error) {
        throw unavailable(`sqlite store: read failed: ${errorText(error)}`, error);
      }
    });
  }

  /** Checks that the database answers. */
  ping(): Promise<void> {
    return this.get(DEFAULT_SEQUENCE).then(() => undefined);
  }

  /** Closes the database file. */
  close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }
}

/**
 * Opens (creating if needed) the store in `dataDir` in this thread, checks its integrity and
 * schema, and makes sure the `default` sequence exists.
 * @throws {SequencerError} `unavailable`: the folder or file cannot be used, or the file is corrupt
 * or foreign; never silently starts over.
 */
export function openSqliteStoreHere(dataDir: string): Promise<SqliteStore> {
  return Promise.resolve().then(() => {
    try {
      Deno.mkdirSync(dataDir, { recursive: true });
    } catch (error) {
      throw unavailable(`DATA_DIR=${JSON.stringify(dataDir)} cannot be used: ${errorText(error)}`);
    }
    const path = `${dataDir}/${SQLITE_FILE}`;
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA busy_timeout = 5000");
      const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
      if (check.length !== 1 || check[0].quick_check !== "ok") {
        throw new Error(`integrity check failed: ${check.map((r) => r.quick_check).join("; ")}`);
      }
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL");
      const version = Number(
        (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
      );
      if (version === 0) {
        const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as {
          n: number;
        };
        if (Number(tables.n) !== 0) {
          throw new Error("the file holds tables that are not a sequencer store");
        }
        db.exec(`BEGIN IMMEDIATE;
          CREATE TABLE IF NOT EXISTS sequences (
            name  TEXT    PRIMARY KEY,
            start INTEGER NOT NULL,
            upper INTEGER NOT NULL
          ) STRICT;
          PRAGMA user_version = ${SCHEMA_VERSION};
          COMMIT;`);
      } else if (version !== SCHEMA_VERSION) {
        throw new Error(`schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
      }
      const store = new SqliteStore(db);
      db.prepare(
        "INSERT INTO sequences (name, start, upper) VALUES (?, 1, 0) ON CONFLICT (name) DO NOTHING",
      ).run(DEFAULT_SEQUENCE);
      return store;
    } catch (error) {
      try {
        if (db?.isOpen) db.close();
      } catch { /* already failing */ }
      throw unavailable(
        `store ${JSON.stringify(path)} cannot be opened: ${errorText(error)}; ` +
          `refusing to start rather than risk handing out numbers twice`,
      );
    }
  });
}
