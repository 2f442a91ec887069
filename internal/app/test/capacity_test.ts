import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SequenceOwner } from "../../atomicSequence/owner.ts";
import { createSequences } from "../../atomicSequence/sequences.ts";
import { SEQUENCE_CAPACITY, SequencerError } from "../../domain/domain.ts";
import { silentLogger } from "../../log/log.ts";
import { startService } from "../../launch/service.ts";
import { SQLITE_FILE } from "../../store/sqlite_store.ts";
import { openSqliteStore } from "../../store/sqlite_thread.ts";

/**
 * A folder in memory when the machine has one: thousands of commits, each an fsync, would take
 * most of this test's time on a disk, and nothing here is about durability.
 */
async function memoryDir(): Promise<string | undefined> {
  try {
    return (await Deno.stat("/dev/shm")).isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}

/** Creates `count` sequences `s0`… in the store of `dir` in one transaction (fast, for setup). */
async function seed(dir: string, count: number): Promise<void> {
  const store = await openSqliteStore(dir);
  await store.close();
  const db = new DatabaseSync(`${dir}/${SQLITE_FILE}`);
  try {
    db.exec("BEGIN");
    const insert = db.prepare("INSERT INTO sequences (name, start, upper) VALUES (?, 1, 0)");
    for (let i = 0; i < count; i++) insert.run(`s${i}`);
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

Deno.test("the 4,096-sequence limit is answered as documented", async (t) => {
  assert.equal(SEQUENCE_CAPACITY, 4096);

  await t.step(
    "in one thread: 4,095 named sequences and default are served, the next is too_many",
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "sequencer-capacity-", dir: await memoryDir() });
      await seed(dir, SEQUENCE_CAPACITY);
      const store = await openSqliteStore(dir);
      const owner = await SequenceOwner.start(store, { logger: silentLogger });
      try {
        const sequences = createSequences(owner.table, owner, { waitMs: 60_000 });
        for (let i = 0; i < SEQUENCE_CAPACITY - 1; i++) {
          assert.equal(await sequences.next(`s${i}`, 1n), 1n);
        }
        await assert.rejects(async () => await sequences.next(`s${SEQUENCE_CAPACITY - 1}`, 1n), (
          error: unknown,
        ) => {
          assert.ok(error instanceof SequencerError);
          assert.equal(error.code, "too_many");
          assert.match(error.message, /at most 4096 sequences/);
          assert.equal(error.details?.limit, 4096);
          return true;
        });
        assert.equal(await sequences.next("s0", 1n), 2n, "the sequences already served go on");
      } finally {
        await owner.close();
        await store.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  );

  await t.step(
    "across worker threads: 503 JSON naming the limit (SEQUENCES_MAX), the others go on",
    async () => {
      const limit = 100;
      const dir = await Deno.makeTempDir({ prefix: "sequencer-capacity-" });
      await seed(dir, limit);
      const service = await startService({
        DATA_DIR: dir,
        WORKERS: "2",
        SEQUENCES_MAX: String(limit),
      });
      try {
        let next = 0;
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < limit - 1) {
            const name = `s${next++}`;
            const res = await fetch(`${service.api}/v1/sequence/${name}`);
            assert.equal(res.status, 200, `${name}: ${await res.clone().text()}`);
            assert.equal((await res.json()).sequence.number, 1);
          }
        }));
        const refused = await fetch(`${service.api}/v1/sequence/s${limit - 1}`);
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get("retry-after"), "1");
        const body = await refused.json();
        assert.equal(body.code, "too_many");
        assert.match(body.error, /at most 100 sequences/);
        assert.equal(body.details.limit, 100);
        const again = await fetch(`${service.api}/v1/sequence/s7`).then((r) => r.json());
        assert.equal(again.sequence.number, 2);
      } finally {
        service.kill("SIGKILL");
        await service.status;
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
});
