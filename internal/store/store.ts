/**
 * The storage interface behind every sequence. A store keeps, per sequence, its start, its
 * committed upper bound (the highest number that may ever be handed out), its raise-only floor and
 * whether it is retired. `reserve` moves the bound up in one durable, atomic step and returns the
 * block that lies below it; the allocator hands out numbers only from reserved blocks, so nothing
 * answered can be answered again after a crash.
 *
 * Every floor raise, retirement, revival and merge bumps a store-wide change version in the same
 * transaction; {@link Store.changes} lists what changed since a version, so that every process
 * serving the store applies it, and {@link Store.heartbeat} / {@link Store.lagging} tell which
 * live processes have not applied a version yet.
 *
 * Implementations: `sqlite_store.ts` (embedded, the default; run on a thread of its own by
 * `sqlite_thread.ts`) and `postgres_store.ts` (shared by replicas). Both pass the same contract
 * tests in `test/store_contract.ts`.
 *
 * @module
 */
import {
  ADMIN_OPERATIONS,
  type Block,
  errorText,
  INT64_MAX,
  invalid,
  type KeyedAnswer,
  type ListPage,
  PERIOD_SEPARATOR,
  type Reset,
  SEQUENCE_NAME,
  SEQUENCE_NAME_RULE,
  type SequenceAdmin,
  type SequenceRecord,
  START_MIN,
} from "../domain/domain.ts";
import { checkNumbering, PERIOD_KEY } from "../period/period.ts";

/** Which store a process uses. */
export type StoreKind = "sqlite" | "postgres";

/**
 * Where the store is: the embedded one in a folder, or PostgreSQL at a URL. For PostgreSQL,
 * `dataDir` is where an embedded store may still be, to be merged in when the store opens.
 */
export type StoreConfig =
  | { kind: "sqlite"; dataDir: string }
  | { kind: "postgres"; url: string; poolSize: number; dataDir: string };

/**
 * One sequence as exported and imported (`deno task sequences export`): its start, committed
 * bound, floor, whether it is retired, and its numbering settings if it has any (the periods of
 * a sequence are exported as sequences of their own, `name@period`). {@link Store.merge} takes
 * these.
 */
export interface ExportRecord {
  /** The name. */
  name: string;
  /** The first number. */
  start: bigint;
  /** The committed bound: every number handed out was `<= committed`. */
  committed: bigint;
  /** The floor: no number below it is handed out. */
  floor: bigint;
  /** Whether it is retired. */
  retired: boolean;
  /** Its periods, if it has numbering settings (with `timezone`, and `format` if any). */
  reset?: Reset;
  /** The timezone of its periods and dates. */
  timezone?: string;
  /** The format of its numbers. */
  format?: string;
}

/** What {@link Store.changes} returns. */
export interface Changes {
  /** The store's current change version: every change up to it is in `records` or older. */
  version: bigint;
  /** The sequences whose floor was raised, or that were retired or revived, after `since`. */
  records: SequenceRecord[];
}

/** What {@link Store.merge} did, by name. */
export interface MergeResult {
  /** Sequences it created. */
  created: string[];
  /** Existing sequences whose floor (and bound) it raised. */
  raised: string[];
  /** Existing sequences it retired. */
  retired: string[];
}

/** Durable storage of sequences and their committed bounds. */
export interface Store extends SequenceAdmin {
  /** Which store this is, for logs and metrics. */
  readonly kind: StoreKind;
  /**
   * Durably raises the bound of `name` by up to `size` (less only at `INT64_MAX`) and returns
   * the block below the new bound. Resolves only after the commit is durable.
   * Rejects with a `SequencerError`: `not_found`, `retired`, `exhausted` (the bound is already
   * `INT64_MAX`), or `unavailable` (nothing was reserved).
   */
  reserve(name: string, size: bigint): Promise<Block>;
  /**
   * Durably stores the answers whose keys are not stored yet, all in one transaction (a group
   * commit), and resolves, for each answer in order, the one stored for its key: the one given,
   * or the one stored earlier (by this or another process) for the same key.
   */
  saveAnswers(answers: KeyedAnswer[]): Promise<KeyedAnswer[]>;
  /** Deletes at most `limit` answers stored more than `ttlMs` ago; resolves how many. */
  purgeAnswers(ttlMs: number, limit: number): Promise<number>;
  /**
   * Gives back the unused top of the blocks this process reserved (a graceful shutdown): lowers
   * the bound of `name` to `to` (never below `floor - 1`) only if it is still `expected`, the
   * bound this process itself committed last. Resolves `false` when anything else reserved
   * since, the sequence is retired or unknown, or there is nothing to lower; never lowers below
   * a number that was handed out.
   */
  giveBack(name: string, expected: bigint, to: bigint): Promise<boolean>;
  /**
   * The sequences changed (floor raised, retired, revived, merged) with a version above `since`,
   * ordered by version, and the version up to which they are complete, read at one moment: the
   * store's current version, or, when more than {@link CHANGES_LIMIT} records changed, a lower
   * one (the records of one version are never split; call again from the version returned).
   */
  changes(since: bigint): Promise<Changes>;
  /**
   * Records that the process `replica` (a random id per start) is alive and has applied every
   * change up to version `applied`. Rows not renewed for a day are purged.
   */
  heartbeat(replica: string, applied: bigint): Promise<void>;
  /**
   * The replicas that sent a heartbeat within the last `leaseMs` milliseconds (by the store's
   * clock) and have applied less than `version`, ordered by id.
   */
  lagging(version: bigint, leaseMs: number): Promise<string[]>;
  /**
   * Raise-only merge of exported sequences (see {@link mergeTarget}): creates missing ones,
   * raises floors and bounds, retires those retired in `records`; bumps the version of every
   * sequence it changed. Idempotent, and safe when several processes merge at once.
   */
  merge(records: ExportRecord[]): Promise<MergeResult>;
  /**
   * Resolves when the store answers, with the store's own clock (ms since the epoch) when it has
   * one apart from this process (PostgreSQL); rejects `unavailable` otherwise.
   */
  ping(): Promise<number | void>;
  /** Releases files, threads and connections. */
  close(): Promise<void>;
}

/** The store operations a store thread answers. */
export const STORE_OPERATIONS = [
  ...ADMIN_OPERATIONS,
  "reserve",
  "giveBack",
  "saveAnswers",
  "purgeAnswers",
  "changes",
  "heartbeat",
  "lagging",
  "merge",
  "ping",
] as const satisfies readonly (keyof Store)[];

/** Sequences a store merges in one transaction; {@link Store.merge} splits larger inputs. */
export const MERGE_BATCH = 1000;

/** Most records one {@link Store.changes} call returns (more than one merge batch). */
export const CHANGES_LIMIT = 10_000;

/**
 * Cuts `records` (ordered by version, at most {@link CHANGES_LIMIT} + 1 of them, the changes after
 * some version while the store was at `current`) to a complete answer: when there are more than
 * the limit, the versions below that of the first record left out, and the version before it.
 */
export function completeChanges(current: bigint, records: SequenceRecord[]): Changes {
  if (records.length <= CHANGES_LIMIT) return { version: current, records };
  const cut = records[CHANGES_LIMIT].version;
  const kept = records.filter((record) => record.version < cut);
  // One version never holds more than a merge batch, so some records always remain.
  return { version: cut - 1n, records: kept };
}

/**
 * The floor and bound an exported record asks for: the floor is at least the exported floor and
 * one above the exported committed bound (at most {@link INT64_MAX}); the bound is at least the
 * exported one and the floor minus one. A store raises its own values to at least these.
 */
export function mergeTarget(record: ExportRecord): { floor: bigint; upper: bigint } {
  const above = record.committed < INT64_MAX ? record.committed + 1n : INT64_MAX;
  const floor = record.floor > above ? record.floor : above;
  const upper = record.committed > floor - 1n ? record.committed : floor - 1n;
  return { floor, upper };
}

/** What merging an {@link ExportRecord} changes in a stored sequence; see {@link mergeChange}. */
export interface MergeChange {
  /** The floor and bound, each raised to at least {@link mergeTarget}'s. */
  floor: bigint;
  upper: bigint;
  /** Whether it is retired after the merge, and whether the merge retired it. */
  retired: boolean;
  retire: boolean;
  /** Whether the floor or the bound went up. */
  raised: boolean;
}

/**
 * What merging `record` changes in the stored sequence `row` (raise-only: a floor or bound never
 * goes down, a retired sequence stays retired); `undefined` when nothing changes.
 */
export function mergeChange(
  row: Pick<SequenceRecord, "floor" | "upper" | "retired">,
  record: ExportRecord,
): MergeChange | undefined {
  const target = mergeTarget(record);
  const floor = row.floor > target.floor ? row.floor : target.floor;
  const upper = row.upper > target.upper ? row.upper : target.upper;
  const retire = record.retired && !row.retired;
  const raised = floor !== row.floor || upper !== row.upper;
  if (!raised && !retire) return undefined;
  return { floor, upper, retired: row.retired || retire, retire, raised };
}

/** A stored sequence as an {@link ExportRecord}. */
export function exportRecord(record: SequenceRecord): ExportRecord {
  return {
    name: record.name,
    start: record.start,
    committed: record.upper,
    floor: record.floor,
    retired: record.retired,
    ...numberingFields({
      reset: record.reset ?? "never",
      timezone: record.timezone ?? "UTC",
      format: record.format ?? null,
    }),
  };
}

/** A sequence's numbering settings as a store keeps them: `never`, `UTC` and NULL without any. */
export interface NumberingColumns {
  reset: Reset;
  timezone: string;
  format: string | null;
}

/**
 * One sequence's row as a store reads it: the fields of its {@link SequenceRecord}, the numbering
 * settings as stored, and `retired` in the database's own type.
 */
export type SequenceRow<Retired> =
  & Omit<SequenceRecord, "retired" | keyof NumberingColumns>
  & NumberingColumns
  & { retired: Retired };

/** The record of a stored row, given whether the store reads it as retired. */
export function rowRecord(row: SequenceRow<unknown>, retired: boolean): SequenceRecord {
  return {
    name: row.name,
    start: row.start,
    upper: row.upper,
    floor: row.floor,
    retired,
    version: row.version,
    ...numberingFields(row),
  };
}

/**
 * The numbering fields of a record from a store's columns: none for a sequence without settings
 * (reset `never`, no format), else `reset`, `timezone` and `format` (if any).
 */
export function numberingFields(
  columns: NumberingColumns,
): Pick<SequenceRecord, "reset" | "timezone" | "format"> {
  const { reset, timezone, format } = columns;
  if (reset === "never" && format === null) return {};
  return { reset, timezone, ...(format === null ? {} : { format }) };
}

/**
 * The names of the periods of `name` (`name@…`) lie in `[low, high)` in byte order: `@` is the
 * character before `A`, and no other name starts with `name@`.
 */
export function periodRange(name: string): [low: string, high: string] {
  return [`${name}${PERIOD_SEPARATOR}`, `${name}A`];
}

/** A name a store may hold: a sequence's, or a period's (`name@2026`, `name@2026-11-27`). */
export function isStoredName(name: string): boolean {
  const at = name.indexOf(PERIOD_SEPARATOR);
  if (at < 0) return SEQUENCE_NAME.test(name);
  return SEQUENCE_NAME.test(name.slice(0, at)) && PERIOD_KEY.test(name.slice(at + 1));
}

/**
 * Checks an {@link ExportRecord} before a store merges it: a valid name, a 64-bit start from
 * {@link START_MIN}, a committed bound from `start - 1` and a floor from `start`, both at most
 * {@link INT64_MAX}.
 * @throws {SequencerError} `invalid`, naming the sequence and the rule.
 */
export function checkExportRecord(record: ExportRecord): void {
  const what = `sequence ${JSON.stringify(record.name)}`;
  if (typeof record.name !== "string" || !isStoredName(record.name)) {
    throw invalid(
      `${what}: the name ${SEQUENCE_NAME_RULE} (a period's: the name, "@" and the period, ` +
        `e.g. "inv@2026")`,
    );
  }
  for (const field of ["start", "committed", "floor"] as const) {
    if (typeof record[field] !== "bigint") throw invalid(`${what}: ${field} must be an integer`);
  }
  if (record.start < START_MIN || record.start > INT64_MAX) {
    throw invalid(`${what}: start=${record.start} must be from ${START_MIN} to ${INT64_MAX}`);
  }
  if (record.committed < record.start - 1n || record.committed > INT64_MAX) {
    throw invalid(
      `${what}: committed=${record.committed} must be from start - 1 (${record.start - 1n}) ` +
        `to ${INT64_MAX}`,
    );
  }
  if (record.floor < record.start || record.floor > INT64_MAX) {
    throw invalid(
      `${what}: floor=${record.floor} must be from start (${record.start}) to ${INT64_MAX}`,
    );
  }
  if (typeof record.retired !== "boolean") throw invalid(`${what}: retired must be true or false`);
  if (record.reset === undefined) {
    if (record.timezone !== undefined || record.format !== undefined) {
      throw invalid(`${what}: timezone and format need reset (never, yearly, monthly or daily)`);
    }
    return;
  }
  if (record.name.includes(PERIOD_SEPARATOR)) {
    throw invalid(`${what}: a period has no numbering settings of its own`);
  }
  let numbering;
  try {
    numbering = checkNumbering({
      reset: record.reset,
      timezone: record.timezone ?? "UTC",
      format: record.format,
    });
  } catch (error) {
    throw invalid(`${what}: ${errorText(error)}`);
  }
  if (numbering === undefined || numbering.timezone !== (record.timezone ?? "UTC")) {
    throw invalid(
      `${what}: numbering settings need a reset other than never or a format, and a ` +
        `canonical timezone`,
    );
  }
}

/**
 * Checks a {@link ListPage}: `limit` a whole number from 1, `after` absent or a string.
 * @throws {SequencerError} `invalid`, naming the field and the rule.
 */
export function checkPage(page: ListPage): void {
  if (!Number.isSafeInteger(page.limit) || page.limit < 1) {
    throw invalid(`limit=${page.limit} is invalid: must be a whole number from 1`);
  }
  if (page.after !== undefined && typeof page.after !== "string") {
    throw invalid(`after=${page.after} is invalid: must be a sequence name`);
  }
}

/**
 * Checks the arguments of {@link Store.heartbeat} and {@link Store.lagging}.
 * @throws {SequencerError} `invalid`, naming the argument and the rule.
 */
export function checkReplica(replica: string, applied: bigint): void {
  if (typeof replica !== "string" || replica.length < 1 || replica.length > 200) {
    throw invalid(`replica ${JSON.stringify(replica)} is invalid: must be 1 to 200 characters`);
  }
  if (typeof applied !== "bigint" || applied < 0n || applied > INT64_MAX) {
    throw invalid(`applied=${applied} is invalid: must be a version from 0 to ${INT64_MAX}`);
  }
}

/**
 * Checks the lease of {@link Store.lagging}.
 * @throws {SequencerError} `invalid`, naming the rule.
 */
export function checkLease(version: bigint, leaseMs: number): void {
  if (typeof version !== "bigint" || version < 0n || version > INT64_MAX) {
    throw invalid(`version=${version} is invalid: must be from 0 to ${INT64_MAX}`);
  }
  if (!Number.isFinite(leaseMs) || leaseMs <= 0 || leaseMs > 86_400_000) {
    throw invalid(`leaseMs=${leaseMs} is invalid: must be above 0 and at most a day`);
  }
}
