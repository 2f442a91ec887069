import assert from "node:assert/strict";
import { DEFAULT_SEQUENCE } from "../../domain/domain.ts";
import { openSqliteStoreHere, SQLITE_FILE } from "../sqlite_store.ts";
import { openSqliteStore } from "../sqlite_thread.ts";
import type { Store } from "../store.ts";
import { coded, storeContract } from "./store_contract.ts";

/** The two ways to open the embedded store: on its own thread (the service's), and in this one. */
const OPENERS: [string, (dir: string) => Promise<Store>][] = [
  ["on its own thread", (dir) => openSqliteStore(dir)],
  ["in the calling thread", (dir) => openSqliteStoreHere(dir)],
];

for (const [where, openStore] of OPENERS) {
  Deno.test(`sqlite store ${where} meets the store contract`, async (t) => {
    const dirs: string[] = [];
    try {
      await storeContract(t, async () => {
        const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
        dirs.push(dir);
        return await openStore(dir);
      });
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`sqlite store ${where} keeps its bound across close and reopen`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
    try {
      await t.step("a reserved block is never reserved again after reopening", async () => {
        const store = await openStore(dir);
        await store.reserve(DEFAULT_SEQUENCE, 100n);
        await store.close();
        const reopened = await openStore(dir);
        try {
          assert.deepEqual(await reopened.reserve(DEFAULT_SEQUENCE, 1n), {
            first: 101n,
            last: 101n,
          });
        } finally {
          await reopened.close();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`sqlite store ${where} refuses to start on a corrupt or foreign file`, async (t) => {
    await t.step("a file of garbage is unavailable, naming the file", async () => {
      const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
      try {
        await Deno.writeTextFile(`${dir}/${SQLITE_FILE}`, "this is not a database ".repeat(200));
        await assert.rejects(openStore(dir), (error) => {
          coded("unavailable")(error);
          assert.match((error as Error).message, new RegExp(`${dir}/${SQLITE_FILE}`));
          assert.match((error as Error).message, /refusing to start/);
          return true;
        });
        // Nothing was reset: the garbage is still there.
        assert.match(await Deno.readTextFile(`${dir}/${SQLITE_FILE}`), /^this is not a database/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("a SQLite file of another application is refused, not reset", async () => {
      const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
      try {
        const { DatabaseSync } = await import("node:sqlite");
        const other = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
        other.exec("CREATE TABLE invoices (id INTEGER)");
        other.close();
        await assert.rejects(openStore(dir), (error) => {
          coded("unavailable")(error);
          assert.match((error as Error).message, /not a sequencer store/);
          return true;
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    await t.step("a DATA_DIR that is a file is unavailable, naming DATA_DIR", async () => {
      const file = await Deno.makeTempFile();
      try {
        await assert.rejects(openStore(file), (error) => {
          coded("unavailable")(error);
          assert.match((error as Error).message, /^DATA_DIR=".*" cannot be used/);
          return true;
        });
      } finally {
        await Deno.remove(file);
      }
    });
  });
}
