/**
 * The embedded store: the runtime's built-in SQLite (`node:sqlite`) in `DATA_DIR/sequencer.db`,
 * in WAL mode with `synchronous=FULL`, so a reservation returns only after its commit is on disk.
 * Each write is one `BEGIN IMMEDIATE` transaction, which also keeps two processes that share a
 * `DATA_DIR` from ever reserving the same block.
 *
 * It fails closed when the ground moves under it:
 * - At startup, a `DATA_DIR` whose marker (`sequencer.id`, see `store_marker.ts`) or write-ahead
 *   log shows that a store existed, but whose database is missing, empty or another store, is
 *   refused with a message saying how to restore or start anew; so is a database older than its
 *   marker (a restored copy), until its floors are raised; and one that was merged into
 *   PostgreSQL.
 * - While running, before each reservation commits and in `ping`, the file is compared with the
 *   one opened (device, inode, size): deleted, replaced or truncated, the store refuses every
 *   operation from then on (until a restart) rather than hand out numbers from a file nobody will
 *   see again. A store merged into PostgreSQL by another process refuses reservations too.
 *
 * SQLite's calls block their thread for the length of an fsync, so the service runs this store on
 * a thread of its own (`sqlite_thread.ts`); {@link openSqliteStoreHere} opens it in the calling
 * thread.
 *
 * @module
 */
import { backup as sqliteBackup, DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type Block,
  type ChangeResult,
  type CreateResult,
  DEFAULT_SEQUENCE,
  errorText,
  exhausted,
  INT64_MAX,
  invalid,
  type KeyedAnswer,
  type ListPage,
  notFound,
  type Numbering,
  raiseBound,
  type Reset,
  retired,
  type SequenceRecord,
  SequencerError,
  unavailable,
} from "../domain/domain.ts";
import { replaceFile } from "./durable_file.ts";
import { migrateSqlite } from "./sqlite_schema.ts";
import {
  type Changes,
  CHANGES_LIMIT,
  checkExportRecord,
  checkLease,
  checkPage,
  checkReplica,
  completeChanges,
  type ExportRecord,
  exportRecord,
  MERGE_BATCH,
  mergeChange,
  type MergeResult,
  mergeTarget,
  periodRange,
  rowRecord,
  type SequenceRow,
  type Store,
} from "./store.ts";
import {
  markerPath,
  readMarker,
  type StoreMarker,
  writeMarker,
  writeMarkerSync,
} from "./store_marker.ts";

/** The database file inside `DATA_DIR`. */
export const SQLITE_FILE = "sequencer.db";

/** Milliseconds between two writes of the marker's generation, at most one per this. */
const MARKER_INTERVAL_MS = 1_000;
/** Heartbeats older than this are purged, in milliseconds. */
const HEARTBEAT_KEEP_MS = 86_400_000;

/** What the operator is told to run to start anew, deliberately. */
export const RESET_COMMAND = "deno task sequences reset --i-understand-numbers-restart";

/** Options of {@link openSqliteStoreHere}. */
export interface SqliteOpenOptions {
  /** Create a store when `DATA_DIR` has none (default true); else refuse. */
  create?: boolean;
  /**
   * Open a database older than its marker (a restored copy): for the commands that raise its
   * floors and then {@link SqliteStore.acceptGeneration}.
   */
  acceptRestored?: boolean;
  /** Open a store that was merged into PostgreSQL (to export it, or import into it). */
  acceptMoved?: boolean;
  /** Told once, with the message, when the store starts refusing everything at runtime. */
  onFailClosed?: (message: string) => void;
  /** Told when something went wrong that does not stop the store (the marker not written). */
  onWarning?: (message: string) => void;
}

type Row = SequenceRow<bigint>;

const COLUMNS = "name, start, upper, floor, retired, version, reset, timezone, format";

function toRecord(row: Row): SequenceRecord {
  return rowRecord(row, row.retired !== 0n);
}

/** The numbering columns of a new or revived row (`never`, `UTC`, NULL without settings). */
function numberingColumns(numbering: Numbering | undefined): [Reset, string, string | null] {
  return [numbering?.reset ?? "never", numbering?.timezone ?? "UTC", numbering?.format ?? null];
}

/** The file's identity when it was opened. */
interface FileIdentity {
  dev: number;
  ino: number | null;
  size: number;
}

/** What the store opened: where, which store, and its file. */
interface Opened {
  dataDir: string;
  path: string;
  storeId: string;
  created: string;
  generation: bigint;
  file: FileIdentity;
}

/** The embedded SQLite store. Open it with {@link openSqliteStoreHere}. */
export class SqliteStore implements Store {
  /** Always `sqlite`. */
  readonly kind = "sqlite";
  readonly #db: DatabaseSync;
  readonly #opened: Opened;
  readonly #options: SqliteOpenOptions;
  readonly #statements: Record<string, StatementSync>;
  #size: number;
  #failed: string | undefined;
  #closed = false;
  /** The latest generation committed by this process, and the one the marker last got. */
  #generation: bigint;
  #markerGeneration: bigint;
  #markerTimer: ReturnType<typeof setTimeout> | undefined;
  #markerWrite: Promise<void> | undefined;
  #markerWrittenAt = -Infinity;

  /** @param db an open database whose schema is current. */
  constructor(db: DatabaseSync, opened: Opened, options: SqliteOpenOptions) {
    this.#db = db;
    this.#opened = opened;
    this.#options = options;
    this.#size = opened.file.size;
    this.#generation = opened.generation;
    this.#markerGeneration = opened.generation;
    const statements: Record<string, string> = {
      select: `SELECT ${COLUMNS} FROM sequences WHERE name = ?`,
      page: `SELECT ${COLUMNS} FROM sequences WHERE name > ? ORDER BY name LIMIT ?`,
      pageTopLevel: `SELECT ${COLUMNS} FROM sequences WHERE name > ? AND instr(name, '@') = 0 ` +
        "ORDER BY name LIMIT ?",
      raise: "UPDATE sequences SET upper = ? WHERE name = ? AND upper = ?",
      insert: "INSERT INTO sequences (name, start, upper, floor, reset, timezone, format) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
      insertMerged: "INSERT INTO sequences " +
        "(name, start, upper, floor, retired, version, reset, timezone, format) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      updateMerged: "UPDATE sequences SET floor = ?, upper = ?, retired = ?, version = ? " +
        "WHERE name = ?",
      setFloor: "UPDATE sequences SET floor = ?, upper = ?, version = ? WHERE name = ?",
      retire: "UPDATE sequences SET retired = 1, version = ? WHERE name = ?",
      // The periods of a sequence: names from `name@` up to (not including) `name` + "A".
      periodsUpper: "SELECT max(upper) AS upper, sum(retired = 0) AS live FROM sequences " +
        "WHERE name >= ? AND name < ?",
      retirePeriods: "UPDATE sequences SET retired = 1, version = ? " +
        "WHERE name >= ? AND name < ? AND retired = 0",
      raiseUpper: "UPDATE sequences SET upper = ? WHERE name = ? AND upper < ?",
      revive: "UPDATE sequences SET start = ?, upper = ?, floor = ?, retired = 0, version = ?, " +
        "reset = ?, timezone = ?, format = ? WHERE name = ?",
      bumpVersion: "UPDATE counters SET value = value + 1 WHERE name = 'version' RETURNING value",
      bumpGeneration:
        "UPDATE counters SET value = value + 1 WHERE name = 'generation' RETURNING value",
      generation: "SELECT value FROM counters WHERE name = 'generation'",
      changes: `SELECT c.value AS current, ${COLUMNS.split(", ").map((c) => `s.${c}`).join(", ")}
        FROM counters AS c LEFT JOIN sequences AS s ON s.version > ?
        WHERE c.name = 'version' ORDER BY s.version, s.name LIMIT ${CHANGES_LIMIT + 1}`,
      heartbeat: "INSERT INTO replicas (replica, applied, seen) " +
        "VALUES (?, ?, unixepoch('subsec') * 1000) ON CONFLICT (replica) DO UPDATE " +
        "SET applied = max(applied, excluded.applied), seen = excluded.seen",
      purge: "DELETE FROM replicas WHERE seen < unixepoch('subsec') * 1000 - ?",
      lagging: "SELECT replica FROM replicas WHERE applied < ? " +
        "AND seen >= unixepoch('subsec') * 1000 - ? ORDER BY replica",
      meta: "SELECT value FROM meta WHERE key = ?",
      setMeta: "INSERT INTO meta (key, value) VALUES (?, ?) " +
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      deleteMeta: "DELETE FROM meta WHERE key = ?",
      saveAnswer: "INSERT INTO answers (key, fingerprint, status, body, stored) " +
        "VALUES (?, ?, ?, ?, unixepoch('subsec') * 1000) ON CONFLICT (key) DO NOTHING",
      answer: "SELECT key, fingerprint, status, body FROM answers WHERE key = ?",
      purgeAnswers: "DELETE FROM answers WHERE key IN (SELECT key FROM answers " +
        "WHERE stored <= unixepoch('subsec') * 1000 - ? ORDER BY stored LIMIT ?)",
    };
    this.#statements = {};
    for (const [key, text] of Object.entries(statements)) {
      const statement = db.prepare(text);
      statement.setReadBigInts(true);
      this.#statements[key] = statement;
    }
  }

  /** The store's id (also in the marker). */
  get storeId(): string {
    return this.#opened.storeId;
  }

  /** The database file. */
  get path(): string {
    return this.#opened.path;
  }

  #row(name: string): SequenceRecord | undefined {
    const row = this.#statements.select.get(name) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  #bumpVersion(): bigint {
    return (this.#statements.bumpVersion.get() as { value: bigint }).value;
  }

  /** Refuses everything once failed closed or closed. */
  #live(): void {
    if (this.#failed !== undefined) throw unavailable(this.#failed);
    if (this.#closed) throw unavailable("sqlite store: the store is closed");
  }

  /** Fails closed: every operation from now on rejects with `message`. */
  #fail(message: string, options: { note?: boolean } = {}): SequencerError {
    if (this.#failed === undefined) {
      this.#failed = message;
      clearTimeout(this.#markerTimer);
      this.#markerTimer = undefined;
      if (options.note) this.#noteFailure(message);
      this.#options.onFailClosed?.(message);
    }
    return unavailable(this.#failed);
  }

  /** Records in the marker that the store file cannot be trusted (see `store_marker.ts`). */
  #noteFailure(message: string): void {
    const { dataDir, storeId, created } = this.#opened;
    try {
      writeMarkerSync(markerPath(dataDir), {
        storeId,
        created,
        generation: this.#markerGeneration,
        failed: `${new Date().toISOString()}: ${message}`,
      });
    } catch (error) {
      this.#options.onWarning?.(`the store marker could not be written: ${errorText(error)}`);
    }
  }

  /**
   * Checks that the file at the store's path is still the one opened and has not shrunk; fails
   * closed otherwise.
   */
  #checkFile(): void {
    const { path, file } = this.#opened;
    let what: string | undefined;
    try {
      const now = Deno.statSync(path);
      if (now.dev !== file.dev || now.ino !== file.ino) what = "replaced";
      else if (now.size === 0 || now.size < this.#size) what = "truncated";
      else this.#size = now.size;
    } catch (error) {
      what = error instanceof Deno.errors.NotFound ? "deleted" : `made unreadable (${error})`;
    }
    if (what === undefined) return;
    throw this.#fail(
      `store file ${JSON.stringify(path)} was ${what} under the running process; refusing to ` +
        `hand out numbers: a restart refuses too, and says how to restore the store or start anew`,
      { note: true },
    );
  }

  /** Fails closed when another process merged this store into PostgreSQL. */
  #checkMoved(): void {
    const moved = this.movedTo();
    if (moved === undefined) return;
    throw this.#fail(
      `store ${JSON.stringify(this.#opened.path)} was merged into PostgreSQL (${moved.to}) on ` +
        `${moved.at} under the running process; refusing to hand out numbers from it: use ` +
        `DATABASE_URL`,
    );
  }

  #transaction<T>(what: string, body: () => T): T {
    this.#live();
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

  #read<T>(body: () => T): Promise<T> {
    return Promise.resolve().then(() => {
      this.#live();
      try {
        return body();
      } catch (error) {
        if (error instanceof SequencerError) throw error;
        throw unavailable(`sqlite store: read failed: ${errorText(error)}`, error);
      }
    });
  }

  #write<T>(what: string, body: () => T): Promise<T> {
    return Promise.resolve().then(() => this.#transaction(what, body));
  }

  /** Durably raises the bound; see {@link Store.reserve}. */
  reserve(name: string, size: bigint): Promise<Block> {
    return this.#write(`reserve on ${JSON.stringify(name)}`, () => {
      this.#checkMoved();
      const row = this.#row(name);
      if (row === undefined) throw notFound(name);
      if (row.retired) throw retired(name);
      const upper = raiseBound(row.upper, size);
      if (upper === undefined) throw exhausted(name, 0n, size);
      const changed = this.#statements.raise.run(upper, name, row.upper).changes;
      if (Number(changed) !== 1) throw new Error(`bound of ${name} changed during reserve`);
      const generation = (this.#statements.bumpGeneration.get() as { value: bigint }).value;
      this.#checkFile();
      return { block: { first: row.upper + 1n, last: upper }, generation };
    }).then(({ block, generation }) => {
      this.#noteGeneration(generation);
      return block;
    });
  }

  /** Stores keyed answers in one transaction; see {@link Store.saveAnswers}. */
  saveAnswers(answers: KeyedAnswer[]): Promise<KeyedAnswer[]> {
    return this.#write(`storing ${answers.length} keyed answers`, () =>
      answers.map((answer) => {
        const { key, fingerprint, status, body } = answer;
        if (Number(this.#statements.saveAnswer.run(key, fingerprint, status, body).changes) === 1) {
          return answer;
        }
        const stored = this.#statements.answer.get(key) as {
          key: string;
          fingerprint: string;
          status: bigint;
          body: string;
        };
        return { ...stored, status: Number(stored.status) };
      }));
  }

  /** Deletes expired keyed answers; see {@link Store.purgeAnswers}. */
  purgeAnswers(ttlMs: number, limit: number): Promise<number> {
    return this.#write(
      "purge of keyed answers",
      () => Number(this.#statements.purgeAnswers.run(ttlMs, limit).changes),
    );
  }

  /** Lowers the bound back to `to` if it is still `expected`; see {@link Store.giveBack}. */
  giveBack(name: string, expected: bigint, to: bigint): Promise<boolean> {
    return this.#write(`give-back on ${JSON.stringify(name)}`, () => {
      this.#checkMoved();
      const row = this.#row(name);
      if (row === undefined || row.retired || row.upper !== expected) return false;
      const lowered = to > row.floor - 1n ? to : row.floor - 1n;
      if (lowered >= expected) return false;
      const changed = Number(this.#statements.raise.run(lowered, name, expected).changes) === 1;
      this.#checkFile();
      return changed;
    });
  }

  /** Creates a sequence unless it exists, or revives a retired one; see {@link Store.create}. */
  create(name: string, start: bigint, numbering?: Numbering): Promise<CreateResult> {
    return this.#write(`create of ${JSON.stringify(name)}`, () => {
      const columns = numberingColumns(numbering);
      const changes = Number(
        this.#statements.insert.run(name, start, start - 1n, start, ...columns).changes,
      );
      const record = this.#row(name)!;
      if (changes === 0 && record.retired && start > record.upper) {
        const version = this.#bumpVersion();
        this.#statements.revive.run(start, start - 1n, start, version, ...columns, name);
        return { created: true, record: this.#row(name)! };
      }
      return { created: changes === 1, record };
    });
  }

  /** One sequence; see {@link Store.get}. */
  get(name: string): Promise<SequenceRecord | undefined> {
    return this.#read(() => this.#row(name));
  }

  /** One page of sequences by name; see {@link Store.list}. */
  list(page: ListPage): Promise<SequenceRecord[]> {
    return this.#read(() => {
      checkPage(page);
      const statement = page.hidePeriods ? this.#statements.pageTopLevel : this.#statements.page;
      const rows = statement.all(page.after ?? "", page.limit) as unknown as Row[];
      return rows.map(toRecord);
    });
  }

  /** Raises a floor; see {@link Store.raiseFloor}. */
  raiseFloor(name: string, floor: bigint): Promise<ChangeResult> {
    return this.#write(`floor of ${JSON.stringify(name)}`, () => {
      if (typeof floor !== "bigint" || floor > INT64_MAX) {
        throw invalid(`floor=${floor} is invalid: must be at most ${INT64_MAX}`);
      }
      const row = this.#row(name);
      if (row === undefined) throw notFound(name);
      if (floor <= row.floor) return { record: row, changed: false };
      const version = this.#bumpVersion();
      const upper = row.upper > floor - 1n ? row.upper : floor - 1n;
      this.#statements.setFloor.run(floor, upper, version, name);
      return { record: this.#row(name)!, changed: true };
    });
  }

  /**
   * Retires a sequence, and with it every period of it (their bound is then the highest any
   * period reached, so a revival starts above all of them); see {@link Store.retire}.
   */
  retire(name: string): Promise<ChangeResult> {
    return this.#write(`retirement of ${JSON.stringify(name)}`, () => {
      const row = this.#row(name);
      if (row === undefined) throw notFound(name);
      const [low, high] = periodRange(name);
      const periods = this.#statements.periodsUpper.get(low, high) as {
        upper: bigint | null;
        live: bigint | null;
      };
      if (row.retired && !periods.live) return { record: row, changed: false };
      const version = this.#bumpVersion();
      if (!row.retired) this.#statements.retire.run(version, name);
      this.#statements.retirePeriods.run(version, low, high);
      if (periods.upper !== null) {
        this.#statements.raiseUpper.run(periods.upper, name, periods.upper);
      }
      return { record: this.#row(name)!, changed: !row.retired };
    });
  }

  /** What changed after `since`; see {@link Store.changes}. */
  changes(since: bigint): Promise<Changes> {
    return this.#read(() => {
      if (typeof since !== "bigint" || since < 0n) {
        throw invalid(`since=${since} is invalid: must be a version from 0`);
      }
      const rows = this.#statements.changes.all(since) as unknown as (
        & { current: bigint }
        & { [K in keyof Row]: Row[K] | null }
      )[];
      const records = rows.flatMap((row) => row.name === null ? [] : [toRecord(row as Row)]);
      return completeChanges(rows[0].current, records);
    });
  }

  /** Records a heartbeat; see {@link Store.heartbeat}. */
  heartbeat(replica: string, applied: bigint): Promise<void> {
    return this.#write("heartbeat", () => {
      checkReplica(replica, applied);
      this.#statements.heartbeat.run(replica, applied);
      this.#statements.purge.run(HEARTBEAT_KEEP_MS);
    });
  }

  /** Live replicas behind `version`; see {@link Store.lagging}. */
  lagging(version: bigint, leaseMs: number): Promise<string[]> {
    return this.#read(() => {
      checkLease(version, leaseMs);
      const rows = this.#statements.lagging.all(version, leaseMs) as { replica: string }[];
      return rows.map((row) => row.replica);
    });
  }

  /** Raise-only merge; see {@link Store.merge}. */
  merge(records: ExportRecord[]): Promise<MergeResult> {
    return Promise.resolve().then(() => {
      for (const record of records) checkExportRecord(record);
      const result: MergeResult = { created: [], raised: [], retired: [] };
      for (let i = 0; i < records.length; i += MERGE_BATCH) {
        const batch = records.slice(i, i + MERGE_BATCH);
        this.#transaction("merge", () => this.#mergeBatch(batch, result));
      }
      return result;
    });
  }

  #mergeBatch(records: ExportRecord[], result: MergeResult): void {
    let version: bigint | undefined;
    const next = () => version ??= this.#bumpVersion();
    for (const record of records) {
      const row = this.#row(record.name);
      if (row === undefined) {
        const target = mergeTarget(record);
        this.#statements.insertMerged.run(
          record.name,
          record.start,
          target.upper,
          target.floor,
          record.retired ? 1 : 0,
          next(),
          ...numberingColumns(
            record.reset === undefined ? undefined : {
              reset: record.reset,
              timezone: record.timezone ?? "UTC",
              ...(record.format === undefined ? {} : { format: record.format }),
            },
          ),
        );
        result.created.push(record.name);
        continue;
      }
      const change = mergeChange(row, record);
      if (change === undefined) continue;
      this.#statements.updateMerged.run(
        change.floor,
        change.upper,
        change.retired ? 1 : 0,
        next(),
        row.name,
      );
      if (change.raised) result.raised.push(row.name);
      if (change.retire) result.retired.push(row.name);
    }
  }

  /** Checks that the database answers and that its file is still the one opened. */
  ping(): Promise<void> {
    return this.#read(() => {
      this.#row(DEFAULT_SEQUENCE);
      this.#checkFile();
    });
  }

  /** Whether (and where, when) the store was merged into PostgreSQL; see {@link moveOut}. */
  movedTo(): { to: string; at: string } | undefined {
    const to = this.#statements.meta.get("moved_to") as { value: string } | undefined;
    if (to === undefined) return undefined;
    const at = this.#statements.meta.get("moved_at") as { value: string } | undefined;
    return { to: to.value, at: at?.value ?? "an unknown date" };
  }

  /**
   * Merges every sequence into another store with `merge`, then marks this store as moved to
   * `target` (a redacted URL), all while holding this store's write lock: a process still serving
   * this store can reserve nothing in between, and refuses to reserve afterwards. Returns
   * `undefined`, merging nothing, when the store was moved to `target` already.
   */
  async moveOut(
    target: string,
    merge: (records: ExportRecord[]) => Promise<MergeResult>,
  ): Promise<MergeResult | undefined> {
    this.#live();
    const result: MergeResult = { created: [], raised: [], retired: [] };
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      if (this.movedTo()?.to === target) {
        this.#db.exec("COMMIT");
        return undefined;
      }
      let after = "";
      for (;;) {
        const rows = this.#statements.page.all(after, MERGE_BATCH) as unknown as Row[];
        if (rows.length === 0) break;
        const merged = await merge(rows.map((row) => exportRecord(toRecord(row))));
        result.created.push(...merged.created);
        result.raised.push(...merged.raised);
        result.retired.push(...merged.retired);
        after = rows[rows.length - 1].name;
      }
      this.#statements.setMeta.run("moved_to", target);
      this.#statements.setMeta.run("moved_at", new Date().toISOString());
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Clears the mark of {@link moveOut}: the store is in use again (after an import into it). */
  clearMoved(): void {
    this.#transaction("clearing the moved mark", () => {
      this.#statements.deleteMeta.run("moved_to");
      this.#statements.deleteMeta.run("moved_at");
    });
  }

  /**
   * Writes the database's generation into the marker, so that a restored (older) copy whose
   * floors were raised is accepted at the next start.
   */
  acceptGeneration(): void {
    this.#live();
    // Also clears a failure noted in the marker: the floors were raised on the file in place.
    const { value } = this.#statements.generation.get() as { value: bigint };
    const { dataDir, storeId, created } = this.#opened;
    writeMarkerSync(markerPath(dataDir), { storeId, created, generation: value });
    this.#generation = value;
    this.#markerGeneration = value;
  }

  /**
   * Writes a consistent copy of the database to `file` with SQLite's online backup API, in one
   * step (one read snapshot), while the store may be serving in this and other processes: the
   * copy goes to a temporary file beside `file`, is fsynced, then renamed, so `file` is whole or
   * absent. Refuses when `file` exists.
   */
  async backup(file: string): Promise<void> {
    this.#live();
    try {
      await Deno.lstat(file);
      throw invalid(`backup file ${JSON.stringify(file)} exists already: name a new file`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    try {
      await replaceFile(file, (temporary) => sqliteBackup(this.#db, temporary, { rate: -1 }));
    } catch (error) {
      if (error instanceof SequencerError) throw error;
      throw unavailable(
        `sqlite store: backup to ${JSON.stringify(file)} failed: ${errorText(error)}`,
      );
    }
  }

  /** Schedules a marker write of `generation`, at most one per {@link MARKER_INTERVAL_MS}. */
  #noteGeneration(generation: bigint): void {
    if (generation > this.#generation) this.#generation = generation;
    if (this.#markerTimer !== undefined || this.#markerWrite !== undefined) return;
    if (this.#failed !== undefined || this.#closed) return;
    const wait = Math.max(0, this.#markerWrittenAt + MARKER_INTERVAL_MS - performance.now());
    this.#markerTimer = setTimeout(() => {
      this.#markerTimer = undefined;
      this.#markerWrite = this.#writeMarker().finally(() => {
        this.#markerWrite = undefined;
        this.#markerWrittenAt = performance.now();
        if (this.#generation > this.#markerGeneration) this.#noteGeneration(this.#generation);
      });
    }, wait);
  }

  async #writeMarker(): Promise<void> {
    const generation = this.#generation;
    const { dataDir, storeId, created } = this.#opened;
    try {
      // Never over a failure another process sharing the folder noted.
      if (readMarker(markerPath(dataDir))?.failed !== undefined) return;
      await writeMarker(markerPath(dataDir), { storeId, created, generation });
      this.#markerGeneration = generation;
    } catch (error) {
      this.#options.onWarning?.(`the store marker could not be written: ${errorText(error)}`);
    }
  }

  /** Closes the database file, after writing the marker's last generation. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#markerTimer);
    this.#markerTimer = undefined;
    await this.#markerWrite;
    if (this.#failed === undefined && this.#generation > this.#markerGeneration) {
      await this.#writeMarker();
    }
    if (this.#db.isOpen) this.#db.close();
  }
}

/** The one line naming a store that is gone and what to do: restore it, or start anew. */
function vanished(dataDir: string, what: string): string {
  return `${what}; refusing to start rather than hand out numbers twice. To restore: stop ` +
    `every process using DATA_DIR=${JSON.stringify(dataDir)}, run "deno task sequences restore ` +
    `BACKUP_FILE", then raise the floors from the last export or from /debug/metrics' ` +
    `sequencer_last_number ("deno task sequences import LAST_EXPORT" or "deno task sequences ` +
    `floor NAME N"; README "Backup and restore"). To start anew deliberately, with every ` +
    `sequence at its start again: "${RESET_COMMAND}" (moves the old files aside)`;
}

function restored(path: string, generation: bigint, marker: StoreMarker): string {
  return `store ${JSON.stringify(path)} is an older copy of this store (generation ` +
    `${generation}, but it had reached ${marker.generation} by ${marker.updated}): it was ` +
    `restored from a backup or snapshot, and numbers handed out after that copy was made would ` +
    `be handed out again. Raise the floors before starting: "deno task sequences import ` +
    `LAST_EXPORT" or "deno task sequences floor NAME N" (N above /debug/metrics' ` +
    `sequencer_last_number), README "Backup and restore"; either command accepts this copy for ` +
    `the next start`;
}

function moved(path: string, to: { to: string; at: string }): string {
  return `store ${JSON.stringify(path)} was merged into PostgreSQL (${to.to}) on ${to.at}; ` +
    `refusing to start on it, it is behind PostgreSQL now. Set DATABASE_URL to use PostgreSQL; ` +
    `to move back, "deno task sequences export" from PostgreSQL and "deno task sequences import" ` +
    `the file into this DATA_DIR (which clears this mark)`;
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Opens (creating if needed, unless `create` is false) the store in `dataDir` in this thread:
 * checks the folder against its marker, the file's integrity and schema (migrating an older one),
 * and makes sure the `default` sequence exists.
 * @throws {SequencerError} `unavailable`: the folder or file cannot be used, the store is gone,
 * older than its marker, merged into PostgreSQL, corrupt or foreign; never silently starts over.
 */
export function openSqliteStoreHere(
  dataDir: string,
  options: SqliteOpenOptions = {},
): Promise<SqliteStore> {
  return Promise.resolve().then(() => {
    try {
      Deno.mkdirSync(dataDir, { recursive: true });
    } catch (error) {
      throw unavailable(`DATA_DIR=${JSON.stringify(dataDir)} cannot be used: ${errorText(error)}`);
    }
    const path = `${dataDir}/${SQLITE_FILE}`;
    const markerFile = markerPath(dataDir);
    let marker: StoreMarker | undefined;
    try {
      marker = readMarker(markerFile);
    } catch (error) {
      throw unavailable(
        `store marker ${JSON.stringify(markerFile)} cannot be read: ${errorText(error)}; if ` +
          `${path} is this folder's store, move the marker away (it is written again at the next ` +
          `start); refusing to start rather than guess`,
      );
    }
    const file = statOrUndefined(path);
    if (file === undefined || file.size === 0) {
      const state = file === undefined ? "missing" : "empty";
      if (marker !== undefined) {
        throw unavailable(vanished(
          dataDir,
          `store ${JSON.stringify(path)} is ${state}, but ${markerFile} shows that a store ` +
            `(id ${marker.storeId}, created ${marker.created}) existed here`,
        ));
      }
      if (statOrUndefined(`${path}-wal`) !== undefined) {
        throw unavailable(vanished(
          dataDir,
          `store ${JSON.stringify(path)} is ${state}, but its write-ahead log ${path}-wal ` +
            `shows that a store existed here`,
        ));
      }
      if (options.create === false) {
        throw unavailable(`DATA_DIR=${JSON.stringify(dataDir)} holds no store (${path})`);
      }
    }
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
      migrateSqlite(db);
      const meta = (key: string) =>
        (db!.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string }).value;
      const storeId = meta("store_id");
      const created = meta("created");
      const generation = db.prepare("SELECT value FROM counters WHERE name = 'generation'");
      generation.setReadBigInts(true);
      const { value } = generation.get() as { value: bigint };
      if (marker !== undefined && marker.storeId !== storeId) {
        throw new Refusal(vanished(
          dataDir,
          `store ${JSON.stringify(path)} is another store (id ${storeId}) than the one ` +
            `${markerFile} shows existed here (id ${marker.storeId}, created ${marker.created})`,
        ));
      }
      if (marker?.failed !== undefined && !options.acceptRestored) {
        throw new Refusal(vanished(
          dataDir,
          `a process found store ${JSON.stringify(path)} pulled from under it (${markerFile}: ` +
            `${marker.failed}); the file now in its place cannot be trusted`,
        ));
      }
      if (marker !== undefined && value < marker.generation && !options.acceptRestored) {
        throw new Refusal(restored(path, value, marker));
      }
      const movedTo = db.prepare("SELECT value FROM meta WHERE key = 'moved_to'").get() as
        | { value: string }
        | undefined;
      if (movedTo !== undefined && !options.acceptMoved) {
        const at = db.prepare("SELECT value FROM meta WHERE key = 'moved_at'").get() as
          | { value: string }
          | undefined;
        throw new Refusal(moved(path, { to: movedTo.value, at: at?.value ?? "an unknown date" }));
      }
      db.prepare(
        "INSERT INTO sequences (name, start, upper, floor) VALUES (?, 1, 0, 1) " +
          "ON CONFLICT (name) DO NOTHING",
      ).run(DEFAULT_SEQUENCE);
      if (marker === undefined) {
        writeMarkerSync(markerFile, { storeId, created, generation: value });
      }
      const opened = Deno.statSync(path);
      return new SqliteStore(db, {
        dataDir,
        path,
        storeId,
        created,
        generation: value,
        file: { dev: opened.dev, ino: opened.ino, size: opened.size },
      }, options);
    } catch (error) {
      try {
        if (db?.isOpen) db.close();
      } catch { /* already failing */ }
      if (error instanceof Refusal) throw unavailable(error.message);
      throw unavailable(
        `store ${JSON.stringify(path)} cannot be opened: ${errorText(error)}; ` +
          `refusing to start rather than risk handing out numbers twice`,
      );
    }
  });
}

/** A refusal whose message is already the whole story. */
class Refusal extends Error {}
