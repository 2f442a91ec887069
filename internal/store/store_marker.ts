/**
 * The marker beside the embedded store, `DATA_DIR/sequencer.id`: it says that a store existed in
 * this folder, which one (the store id also kept inside the database), and how far it had got (its
 * generation, a counter every reservation raises). With it, a store file that was deleted, emptied
 * or replaced is noticed at startup instead of silently starting over at 1, and a copy older than
 * the marker (a restored backup) is refused until its floors are raised. A process that found its
 * store file deleted, replaced or truncated notes it in the marker (`failed`), because the file in
 * its place can look whole afterwards (SQLite writes its log into whatever file is at the path
 * when it closes): the next start refuses until the store is restored, reset, or its floors raised.
 *
 * The marker is written atomically: a temporary file in the same folder, fsynced, renamed over the
 * marker, and the folder fsynced, so a crash leaves the old marker or the new one, never a part.
 *
 * @module
 */
import { replaceFile, syncFolder } from "./durable_file.ts";

/** The marker file inside `DATA_DIR`. */
export const MARKER_FILE = "sequencer.id";

/** What the marker records. */
export interface StoreMarker {
  /** The store's id (a random UUID), also in the database's `meta` table. */
  storeId: string;
  /** When the store was created (ISO 8601). */
  created: string;
  /** The store's generation when the marker was last written (never above the database's). */
  generation: bigint;
  /** When the marker was last written (ISO 8601). */
  updated: string;
  /** Why and when a running process stopped trusting the store file, if one did. */
  failed?: string;
}

interface MarkerJson {
  storeId: string;
  created: string;
  generation: string;
  updated: string;
  failed?: string;
}

/** The marker's path in `dataDir`. */
export function markerPath(dataDir: string): string {
  return `${dataDir}/${MARKER_FILE}`;
}

/**
 * Reads the marker at `path`; `undefined` when there is none.
 * @throws {Error} the file exists but cannot be read or is not a marker (the message says which).
 */
export function readMarker(path: string): StoreMarker | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return parseMarker(text);
}

/** Parses a marker's text. @throws {Error} when it is not one. */
export function parseMarker(text: string): StoreMarker {
  let json: Partial<MarkerJson>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("it is not JSON");
  }
  if (
    typeof json?.storeId !== "string" || json.storeId === "" ||
    typeof json.created !== "string" ||
    typeof json.generation !== "string" || !/^(0|[1-9][0-9]{0,18})$/.test(json.generation)
  ) {
    throw new Error("it lacks storeId, created or generation");
  }
  return {
    storeId: json.storeId,
    created: json.created,
    generation: BigInt(json.generation),
    updated: typeof json.updated === "string" ? json.updated : json.created,
    ...(typeof json.failed === "string" ? { failed: json.failed } : {}),
  };
}

function markerText(marker: Omit<StoreMarker, "updated">): Uint8Array {
  const json: MarkerJson = {
    storeId: marker.storeId,
    created: marker.created,
    generation: marker.generation.toString(),
    updated: new Date().toISOString(),
    ...(marker.failed === undefined ? {} : { failed: marker.failed }),
  };
  return new TextEncoder().encode(JSON.stringify(json) + "\n");
}

function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/** Writes the marker at `path` atomically and durably, in this thread. */
export function writeMarkerSync(path: string, marker: Omit<StoreMarker, "updated">): void {
  const temporary = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    const file = Deno.openSync(temporary, { write: true, createNew: true });
    try {
      let data = markerText(marker);
      while (data.length > 0) data = data.subarray(file.writeSync(data));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(temporary, path);
  } catch (error) {
    try {
      Deno.removeSync(temporary);
    } catch { /* not created, or already renamed */ }
    throw error;
  }
  const folder = Deno.openSync(folderOf(path), { read: true });
  try {
    folder.syncSync();
  } finally {
    folder.close();
  }
}

/** Writes the marker at `path` atomically and durably, without blocking the thread. */
export async function writeMarker(
  path: string,
  marker: Omit<StoreMarker, "updated">,
): Promise<void> {
  await replaceFile(
    path,
    (temporary) => Deno.writeFile(temporary, markerText(marker), { createNew: true }),
  );
  await syncFolder(folderOf(path));
}
