import assert from "node:assert/strict";
import { AnswerBook } from "../answer_book.ts";
import { openSqliteStoreHere, type SqliteStore } from "../../store/sqlite_store.ts";
import { SequencerError } from "../../domain/domain.ts";
import { silentLogger } from "../../log/log.ts";

async function withBook(
  options: { cacheSize?: number },
  run: (book: AnswerBook, store: SqliteStore) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-answers-" });
  const store = await openSqliteStoreHere(dir);
  const book = new AnswerBook(store, { ttlMs: 3_600_000, logger: silentLogger, ...options });
  try {
    await run(book, store);
  } finally {
    await book.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("answer book: replays, refuses and evicts its cache without losing answers", async (t) => {
  await t.step(
    "a key's answer is replayed for the same request and refused for another",
    () =>
      withBook({}, async (book) => {
        assert.deepEqual(book.begin("k", "GET /v1/sequence"), { state: "new" });
        assert.throws(() => book.begin("k", "GET /v1/sequence"), (e) => {
          assert.ok(e instanceof SequencerError);
          return e.code === "in_flight";
        });
        const body = '{"status":"ok","sequence":{"number":1}}';
        const stored = await book.finish("k", "GET /v1/sequence", { status: 200, body });
        assert.equal(stored?.body, body);
        const again = book.begin("k", "GET /v1/sequence");
        assert.equal(again.state, "answered");
        assert.equal(again.state === "answered" && again.answer.body, body);
        assert.throws(() => book.begin("k", "GET /v1/sequence?count=2"), (e) => {
          assert.ok(e instanceof SequencerError);
          return e.code === "idempotency_mismatch";
        });
      }),
  );

  await t.step(
    "past the cache size, the newest half stays cached and older answers come from the store",
    () =>
      withBook({ cacheSize: 10 }, async (book) => {
        const answer = (i: number) => ({ status: 200, body: `{"n":${i}}` });
        for (let i = 0; i < 25; i++) {
          assert.deepEqual(book.begin(`k${i}`, "f"), { state: "new" });
          await book.finish(`k${i}`, "f", answer(i));
        }
        // The last answers are replayed from memory.
        for (let i = 20; i < 25; i++) {
          const begun = book.begin(`k${i}`, "f");
          assert.equal(begun.state, "answered", `k${i} is cached`);
        }
        // An evicted key starts again, and storing a new answer returns the first one stored.
        assert.deepEqual(book.begin("k0", "f"), { state: "new" });
        const stored = await book.finish("k0", "f", { status: 200, body: '{"n":"other"}' });
        assert.equal(stored?.body, '{"n":0}');
      }),
  );
});
