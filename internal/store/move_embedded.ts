/**
 * Moving from the embedded store to PostgreSQL without a repeat: when a process opens PostgreSQL
 * and its `DATA_DIR` still holds an embedded store, every sequence of it is merged in, raise-only
 * (see `Store.merge`), and the embedded store is marked as moved, so that it never serves again
 * (a process still serving it refuses to reserve from then on; opening it refuses with a message).
 *
 * @module
 */
import type { Logger } from "../log/log.ts";
import { openSqliteStoreHere, SQLITE_FILE } from "./sqlite_store.ts";
import type { MergeResult, Store } from "./store.ts";

/** Names a log line lists per kind of change, at most. */
const LOGGED_NAMES = 100;

/**
 * Merges the embedded store in `dataDir`, if there is one, into `target` (PostgreSQL at the
 * redacted URL `where`) and marks it as moved; logs what was merged. Does nothing when there is no
 * store file, or when it was moved to `where` already.
 * @throws {SequencerError} `unavailable`: the embedded store cannot be opened (vanished, an older
 * copy, corrupt: its message says what to do), or the merge failed; nothing was marked then.
 */
export async function mergeEmbeddedStore(
  target: Store,
  dataDir: string,
  options: { where: string; logger?: Logger },
): Promise<MergeResult | undefined> {
  const path = `${dataDir}/${SQLITE_FILE}`;
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (size === 0) return undefined;
  const embedded = await openSqliteStoreHere(dataDir, { create: false, acceptMoved: true });
  try {
    const result = await embedded.moveOut(options.where, (records) => target.merge(records));
    if (result === undefined) return undefined;
    const list = (names: string[]) => names.slice(0, LOGGED_NAMES);
    options.logger?.info("merged embedded store into postgres", {
      from: path,
      database: options.where,
      created: result.created.length,
      raised: result.raised.length,
      retired: result.retired.length,
      createdNames: list(result.created),
      raisedNames: list(result.raised),
      retiredNames: list(result.retired),
    });
    return result;
  } finally {
    await embedded.close();
  }
}
