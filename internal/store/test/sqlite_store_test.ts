import assert from "node:assert/strict";
import { openSqliteStore, SQLITE_FILE, StoreOpenError } from "../sqlite_store.ts";
import { DEFAULT_SEQUENCE } from "../store.ts";
import { storeContract } from "./store_contract.ts";

Deno.test("sqlite store meets the store contract", async (t) => {
  const dirs: string[] = [];
  try {
    await storeContract(t, async () => {
      const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
      dirs.push(dir);
      return await openSqliteStore(dir);
    });
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite store keeps its bound across close and reopen", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
  try {
    await t.step("a reserved block is never reserved again after reopening", async () => {
      const store = await openSqliteStore(dir);
      await store.reserve(DEFAULT_SEQUENCE, 100n);
      await store.close();
      const reopened = await openSqliteStore(dir);
      try {
        assert.deepEqual(await reopened.reserve(DEFAULT_SEQUENCE, 1n), { first: 101n, last: 101n });
      } finally {
        await reopened.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite store refuses to start on a corrupt or foreign file", async (t) => {
  await t.step("a file of garbage is a StoreOpenError naming the file", async () => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-sqlite-" });
    try {
      await Deno.writeTextFile(`${dir}/${SQLITE_FILE}`, "this is not a database ".repeat(200));
      const error = await assert.rejects(openSqliteStore(dir), StoreOpenError);
      void error;
      await assert.rejects(openSqliteStore(dir), new RegExp(SQLITE_FILE));
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
      await assert.rejects(openSqliteStore(dir), /not a sequencer store/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a DATA_DIR that is a file is a StoreOpenError naming DATA_DIR", async () => {
    const file = await Deno.makeTempFile();
    try {
      await assert.rejects(openSqliteStore(file), /DATA_DIR=/);
    } finally {
      await Deno.remove(file);
    }
  });
});
