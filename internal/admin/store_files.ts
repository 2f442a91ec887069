/**
 * The embedded store's files as an operator handles them: moved aside (never deleted) to start
 * anew, and a backup put in place of the store. Run these with the service stopped.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { errorText, invalid } from "../domain/domain.ts";
import { syncFile, syncFolder } from "../store/durable_file.ts";
import { SQLITE_FILE } from "../store/sqlite_store.ts";
import { MARKER_FILE, markerPath, readMarker, writeMarkerSync } from "../store/store_marker.ts";

/** The store's own files in `DATA_DIR`: the database, its WAL and shared memory, the marker. */
const STORE_FILES = [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Refuses when another process has the store of `dataDir` open: the exclusive lock SQLite gives
 * only to a sole connection cannot be had.
 * @throws {SequencerError} `invalid`, saying to stop the service first.
 */
function assertNotInUse(dataDir: string, what: string): void {
  const path = `${dataDir}/${SQLITE_FILE}`;
  try {
    if (Deno.statSync(path).size === 0) return;
  } catch {
    return;
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
  } catch (error) {
    if (/locked|busy/i.test(errorText(error))) {
      throw invalid(
        `${path} is open in another process: stop every service using DATA_DIR=` +
          `${JSON.stringify(dataDir)} before ${what}`,
      );
    }
    // Not a database we can open: nothing can be serving it either.
  } finally {
    if (db?.isOpen) db.close();
  }
}

/**
 * Moves `files` of `dataDir` that exist into a new folder `<dataDir>/<label>-<time>`; returns the
 * folder and what was moved (nothing moved: no folder).
 */
async function moveAside(
  dataDir: string,
  files: string[],
  label: string,
): Promise<{ folder: string; moved: string[] } | undefined> {
  const present: string[] = [];
  for (const file of files) if (await exists(`${dataDir}/${file}`)) present.push(file);
  if (present.length === 0) return undefined;
  const folder = `${dataDir}/${label}-${new Date().toISOString().replaceAll(":", "-")}`;
  await Deno.mkdir(folder);
  for (const file of present) await Deno.rename(`${dataDir}/${file}`, `${folder}/${file}`);
  await syncFolder(dataDir);
  return { folder, moved: present };
}

/**
 * Starts anew deliberately: moves the store, its WAL and its marker aside into
 * `<dataDir>/reset-<time>`, so that the next start creates a new store at 1. Deletes nothing.
 * Refuses while a process has the store open.
 * @returns the folder and the files moved; `undefined` when there was nothing to move.
 */
export function resetStore(
  dataDir: string,
): Promise<{ folder: string; moved: string[] } | undefined> {
  assertNotInUse(dataDir, "resetting it");
  return moveAside(dataDir, [...STORE_FILES, MARKER_FILE], "reset");
}

/** What {@link restoreBackup} did. */
export interface Restored {
  /** The folder the replaced files went to, if there were any. */
  replacedTo: string | undefined;
  /** The backup's generation. */
  generation: bigint;
}

/**
 * Puts the backup `file` in place of the embedded store of `dataDir`: checks it (a whole
 * sequencer store, of this folder's store if the folder has a marker), moves the current
 * database, WAL and shared memory aside into `<dataDir>/replaced-<time>`, and renames a copy of the
 * backup into place. The marker is set above the backup's generation, so the store refuses to
 * start until its floors are raised (`import` of the last export, or `floor`): a backup is always
 * older than what was handed out after it.
 * @throws {SequencerError} `invalid` (not a usable backup, or another store's) or `unavailable`.
 */
export async function restoreBackup(dataDir: string, file: string): Promise<Restored> {
  if (!(await exists(file))) throw invalid(`backup file ${JSON.stringify(file)} does not exist`);
  await Deno.mkdir(dataDir, { recursive: true });
  assertNotInUse(dataDir, "restoring");
  const marker = readMarker(markerPath(dataDir));
  const temporary = `${dataDir}/${SQLITE_FILE}.restoring-${crypto.randomUUID()}`;
  try {
    await Deno.copyFile(file, temporary);
    await syncFile(temporary);
    const backup = inspectBackup(temporary, file);
    if (marker !== undefined && marker.storeId !== backup.storeId) {
      throw invalid(
        `backup ${JSON.stringify(file)} is of another store (id ${backup.storeId}) than the one ` +
          `in DATA_DIR=${JSON.stringify(dataDir)} (id ${marker.storeId}); to replace that store ` +
          `by it, run "reset --i-understand-numbers-restart" first (it moves the store aside)`,
      );
    }
    const replaced = await moveAside(dataDir, STORE_FILES, "replaced");
    await Deno.rename(temporary, `${dataDir}/${SQLITE_FILE}`);
    await syncFolder(dataDir);
    const generation = marker !== undefined && marker.generation > backup.generation
      ? marker.generation
      : backup.generation + 1n;
    writeMarkerSync(markerPath(dataDir), {
      storeId: backup.storeId,
      created: marker?.created ?? backup.created,
      generation,
    });
    return { replacedTo: replaced?.folder, generation: backup.generation };
  } finally {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) {
      await Deno.remove(`${temporary}${suffix}`).catch(() => {});
    }
  }
}

/** Reads a backup's store id, creation time and generation; checks that it is whole. */
function inspectBackup(
  path: string,
  source: string,
): { storeId: string; created: string; generation: bigint } {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    if (check.length !== 1 || check[0].quick_check !== "ok") {
      throw new Error(`integrity check failed: ${check.map((r) => r.quick_check).join("; ")}`);
    }
    const meta = (key: string) =>
      (db!.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string }).value;
    const generation = db.prepare("SELECT value FROM counters WHERE name = 'generation'");
    generation.setReadBigInts(true);
    return {
      storeId: meta("store_id"),
      created: meta("created"),
      generation: (generation.get() as { value: bigint }).value,
    };
  } catch (error) {
    throw invalid(
      `backup ${JSON.stringify(source)} is not a whole sequencer store backup: ${errorText(error)}`,
    );
  } finally {
    if (db?.isOpen) db.close();
  }
}
