import assert from "node:assert/strict";
import { startService } from "../../launch/service.ts";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";

const ignore = skipWithoutPostgres(await postgresAvailability(), "keyed requests on PostgreSQL");

const KEYS = 1000;

/** Sends the keyed request of key `i` (a batch of 1 to 3) with 32 clients at a time. */
async function send(
  api: string,
  keys: number[],
): Promise<Map<number, { status: number; text: string; replayed: boolean }>> {
  const answers = new Map<number, { status: number; text: string; replayed: boolean }>();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < keys.length) {
      const i = keys[next++];
      const res = await fetch(`${api}/v1/sequence/keyed?count=${(i % 3) + 1}`, {
        headers: { "idempotency-key": `"key-${i}"` },
      });
      answers.set(i, {
        status: res.status,
        text: await res.text(),
        replayed: res.headers.get("idempotency-replayed") === "true",
      });
    }
  }));
  return answers;
}

Deno.test({
  name: "1,000 keyed requests retried after kill -9 and on another replica get their first answers",
  ignore,
  fn: async (t) => {
    const pg = await sharedPostgres();
    const url = await pg.freshDatabase("keyed");
    const keys = Array.from({ length: KEYS }, (_, i) => i);
    let a = await startService({ DATABASE_URL: url, WORKERS: "2" });
    const b = await startService({ DATABASE_URL: url, WORKERS: "2" });
    try {
      const created = await fetch(`${a.api}/v1/sequences/keyed`, { method: "PUT" });
      await created.body?.cancel();
      const first = await send(a.api, keys);
      for (const [i, answer] of first) {
        assert.equal(answer.status, 200, `key ${i}: ${answer.text}`);
        assert.equal(answer.replayed, false);
      }

      await t.step("half retried on the same replica after kill -9 and a restart", async () => {
        a.kill("SIGKILL");
        await a.status;
        a = await startService({ DATABASE_URL: url, WORKERS: "2" });
        const retried = await send(a.api, keys.filter((i) => i % 2 === 0));
        for (const [i, answer] of retried) {
          assert.equal(answer.text, first.get(i)!.text, `key ${i} got another answer`);
          assert.equal(answer.replayed, true);
        }
      });

      await t.step("the other half retried on another replica sharing PostgreSQL", async () => {
        const retried = await send(b.api, keys.filter((i) => i % 2 === 1));
        for (const [i, answer] of retried) {
          assert.equal(answer.text, first.get(i)!.text, `key ${i} got another answer`);
          assert.equal(answer.replayed, true);
        }
      });

      await t.step("the first answers never overlap", () => {
        const seen = new Set<bigint>();
        for (const answer of first.values()) {
          const body = JSON.parse(answer.text).sequence;
          const from = BigInt(body.number);
          const to = BigInt(body.last ?? body.number);
          for (let n = from; n <= to; n++) {
            assert.ok(!seen.has(n), `${n} answered under two keys`);
            seen.add(n);
          }
        }
      });
    } finally {
      for (const service of [a, b]) service.kill("SIGKILL");
      await Promise.all([a.status, b.status]);
    }
  },
});

Deno.test("keyed requests on the embedded store survive kill -9: the retry gets the first answer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-keyed-" });
  let service = await startService({ DATA_DIR: dir, WORKERS: "2" });
  try {
    const created = await fetch(`${service.api}/v1/sequences/keyed`, { method: "PUT" });
    await created.body?.cancel();
    const keys = Array.from({ length: 200 }, (_, i) => i);
    const first = await send(service.api, keys);
    service.kill("SIGKILL");
    await service.status;
    service = await startService({ DATA_DIR: dir, WORKERS: "1" });
    const retried = await send(service.api, keys);
    for (const [i, answer] of retried) {
      assert.equal(answer.status, 200);
      assert.equal(answer.text, first.get(i)!.text, `key ${i} got another answer`);
    }
  } finally {
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
});
