import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { DEFAULT_SEQUENCE } from "../../domain/domain.ts";
import { SQLITE_FILE } from "../sqlite_store.ts";
import { openSqliteStore } from "../sqlite_thread.ts";

Deno.test("a commit waiting on the disk never holds up the thread that asked for it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-thread-" });
  const store = await openSqliteStore(dir);
  // Another connection holds the write lock, as a slow disk or a backup would: the store's
  // BEGIN IMMEDIATE waits for it (busy_timeout) inside the call.
  const blocker = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
  try {
    await t.step("while the commit waits, this thread's timers and I/O keep running", async () => {
      blocker.exec("BEGIN IMMEDIATE");
      const order: string[] = [];
      const reserve = store.reserve(DEFAULT_SEQUENCE, 10n).then((block) => {
        order.push("committed");
        return block;
      });
      // With the store on this thread, this timer could only fire after the commit returned.
      await new Promise((r) => setTimeout(r, 0));
      order.push("timer ran");
      const probe = await Deno.stat(dir);
      assert.ok(probe.isDirectory);
      order.push("I/O ran");
      blocker.exec("COMMIT");
      const block = await reserve;
      assert.deepEqual(order, ["timer ran", "I/O ran", "committed"]);
      assert.deepEqual(block, { first: 1n, last: 10n });
    });
  } finally {
    if (blocker.isOpen) blocker.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
