import assert from "node:assert/strict";
import { startService } from "../../launch/service.ts";

Deno.test("a client creating names as fast as it can, or burning a sequence with huge batches, gets 429 while another is served", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-limits-" });
  const service = await startService({
    DATA_DIR: dir,
    WORKERS: "2",
    CREATE_RATE_PER_SEC: "2",
    CREATE_BURST: "20",
    BATCH_NUMBERS_PER_SEC: "400000",
  });
  // The attackers connect from 127.0.0.1, the other client from 127.0.0.2: another address.
  const api = service.api;
  const attacker = api;
  const other = api;
  const client = Deno.createHttpClient({ localAddress: "127.0.0.2" });
  const fromOther = (url: string, init: RequestInit = {}) => fetch(url, { ...init, client });
  try {
    await t.step("creating names: 429 JSON with Retry-After once the burst is spent", async () => {
      const statuses: number[] = [];
      let refused: Response | undefined;
      for (let i = 0; i < 200 && refused === undefined; i++) {
        const res = await fetch(`${attacker}/v1/sequences/spam-${i}`, { method: "PUT" });
        statuses.push(res.status);
        if (res.status === 429) refused = res;
        else await res.body?.cancel();
      }
      assert.ok(refused !== undefined, `never refused: ${statuses.join(",")}`);
      assert.ok(statuses.filter((s) => s === 201).length >= 10, "the burst was not allowed");
      const seconds = Number(refused.headers.get("retry-after"));
      assert.ok(seconds >= 1, `Retry-After: ${refused.headers.get("retry-after")}`);
      const body = await refused.json();
      assert.equal(body.code, "rate_limited");
      assert.match(body.error, /creates sequences faster than CREATE_RATE_PER_SEC allows/);
      assert.equal(body.details.retryAfterSec, seconds);
    });

    await t.step("another client still creates its sequence and takes numbers", async () => {
      const created = await fromOther(`${other}/v1/sequences/mine`, { method: "PUT" });
      assert.equal(created.status, 201, await created.clone().text());
      await created.body?.cancel();
      for (let i = 1; i <= 20; i++) {
        const res = await fromOther(`${other}/v1/sequence/mine`);
        assert.equal(res.status, 200);
        assert.equal((await res.json()).sequence.number, i);
      }
    });

    await t.step(
      "huge batches of one sequence: 429 while others' batches and singles go on",
      async () => {
        const made = await fromOther(`${other}/v1/sequences/burn`, { method: "PUT" });
        await made.body?.cancel();
        let refused: Response | undefined;
        for (let i = 0; i < 100 && refused === undefined; i++) {
          const res = await fetch(`${attacker}/v1/sequence/burn?count=100000`);
          if (res.status === 429) refused = res;
          else {
            assert.equal(res.status, 200);
            await res.body?.cancel();
          }
        }
        assert.ok(refused !== undefined, "huge batches were never refused");
        assert.equal((await refused.json()).code, "rate_limited");
        const single = await fetch(`${attacker}/v1/sequence/burn`);
        assert.equal(single.status, 200, "single numbers are never limited");
        await single.body?.cancel();
        const batch = await fromOther(`${other}/v1/sequence/mine?count=1000`);
        assert.equal(batch.status, 200, "another sequence's batches were refused");
        assert.equal((await batch.json()).sequence.count, 1000);
        const seed = await fromOther(`${other}/v1/sequence`);
        assert.equal(seed.status, 200);
        await seed.body?.cancel();
      },
    );
  } finally {
    client.close();
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
});
