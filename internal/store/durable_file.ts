/**
 * Files put in place whole or not at all, and fsynced: what the stores and the operator's commands
 * write next to the data (markers, backups, exports).
 *
 * @module
 */

/** Fsyncs the file at `path` (opened for reading and writing). */
export async function syncFile(path: string): Promise<void> {
  const file = await Deno.open(path, { read: true, write: true });
  try {
    await file.sync();
  } finally {
    file.close();
  }
}

/** Fsyncs the folder at `path`, so that a rename or a new file in it is durable. */
export async function syncFolder(path: string): Promise<void> {
  const folder = await Deno.open(path, { read: true });
  try {
    await folder.sync();
  } finally {
    folder.close();
  }
}

/**
 * Puts a file at `path` whole or not at all: `write` creates a temporary file next to it (the path
 * it is given), which is fsynced and renamed over `path`. When anything fails, the temporary file
 * is removed and the error thrown again.
 */
export async function replaceFile(
  path: string,
  write: (temporary: string) => Promise<unknown>,
): Promise<void> {
  const temporary = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await write(temporary);
    await syncFile(temporary);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
