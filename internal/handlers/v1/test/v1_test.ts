import assert from "node:assert/strict";
import { SequenceOwner } from "../../../atomicSequence/owner.ts";
import { createSequences } from "../../../atomicSequence/sequences.ts";
import { openSqliteStore } from "../../../store/sqlite_thread.ts";
import { silentLogger } from "../../../log/log.ts";
import { createRouter } from "../../../http/router.ts";
import { v1Routes } from "../v1.ts";
import { INT64_MAX } from "../../../domain/domain.ts";

async function withApi(
  fn: (
    call: (method: string, path: string, body?: string, key?: string) => Promise<Result>,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-v1-" });
  const store = await openSqliteStore(dir);
  const owner = await SequenceOwner.start(store, { logger: silentLogger });
  const sequences = createSequences(owner.table, owner, { waitMs: 60_000 });
  const handler = createRouter(v1Routes(sequences, { batchMax: 1000 }));
  try {
    await fn(async (method, path, body, key) => {
      const headers: Record<string, string> = key === undefined ? {} : { "idempotency-key": key };
      const res = await handler(
        new Request(`http://localhost${path}`, { method, body, headers }),
      );
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text), headers: res.headers };
    });
  } finally {
    await owner.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

interface Result {
  status: number;
  text: string;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

Deno.test("GET /v1/sequence keeps the seed's contract", async (t) => {
  await withApi(async (call) => {
    await t.step("200, JSON, the exact body, starting at 1 and increasing", async () => {
      const first = await call("GET", "/v1/sequence");
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("content-type"), "application/json");
      assert.equal(first.headers.get("cache-control"), "no-store");
      assert.equal(first.text, '{"status":"ok","sequence":{"number":1}}');
      assert.equal(
        (await call("GET", "/v1/sequence")).text,
        '{"status":"ok","sequence":{"number":2}}',
      );
    });

    await t.step("?count=N reserves N consecutive numbers", async () => {
      const res = await call("GET", "/v1/sequence?count=10");
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.text, '{"status":"ok","sequence":{"number":3,"count":10,"last":12}}');
      assert.equal((await call("GET", "/v1/sequence")).body.sequence.number, 13);
    });

    await t.step("?numbers=string writes numbers as strings", async () => {
      const res = await call("GET", "/v1/sequence?numbers=string");
      assert.equal(res.text, '{"status":"ok","sequence":{"number":"14"}}');
    });

    await t.step("bad count is 400 naming count; nothing is consumed", async () => {
      for (const q of ["0", "-1", "abc", "1001", "2.5", ""]) {
        const res = await call("GET", `/v1/sequence?count=${q}`);
        assert.equal(res.status, 400, q);
        assert.equal(res.body.status, "error");
        assert.match(res.body.error, /count/);
      }
      assert.equal((await call("GET", "/v1/sequence")).body.sequence.number, 15);
    });

    await t.step("other methods are 405 with Allow", async () => {
      const res = await call("POST", "/v1/sequence");
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("allow"), "GET");
    });

    await t.step(
      "each answer has its own headers: changing one leaves the next intact",
      async () => {
        const first = await call("GET", "/v1/sequence");
        first.headers.set("cache-control", "max-age=60");
        first.headers.set("x-changed", "yes");
        const next = await call("GET", "/v1/sequence");
        assert.equal(next.headers.get("cache-control"), "no-store");
        assert.equal(next.headers.get("x-changed"), null);
      },
    );
  });
});

Deno.test("named sequences: create, next, show, list", async (t) => {
  await withApi(async (call) => {
    await t.step("PUT creates (201), repeats (200), conflicts (409)", async () => {
      const created = await call("PUT", "/v1/sequences/orders", '{"start": 1000}');
      assert.equal(created.status, 201);
      assert.deepEqual(created.body, {
        status: "ok",
        sequence: { name: "orders", start: 1000, committed: 999, floor: 1000, retired: false },
      });
      assert.equal((await call("PUT", "/v1/sequences/orders", '{"start": 1000}')).status, 200);
      const conflict = await call("PUT", "/v1/sequences/orders", '{"start": 5}');
      assert.equal(conflict.status, 409);
      assert.match(conflict.body.error, /already exists with start 1000, not 5/);
      assert.equal((await call("PUT", "/v1/sequences/plain")).status, 201);
    });

    await t.step("GET /v1/sequence/{name} answers its next number", async () => {
      assert.equal(
        (await call("GET", "/v1/sequence/orders")).text,
        '{"status":"ok","sequence":{"number":1000}}',
      );
      assert.equal(
        (await call("GET", "/v1/sequence/orders?count=3")).text,
        '{"status":"ok","sequence":{"number":1001,"count":3,"last":1003}}',
      );
      assert.equal((await call("GET", "/v1/sequence/plain")).body.sequence.number, 1);
    });

    await t.step("show and list do not consume numbers", async () => {
      const shown = await call("GET", "/v1/sequences/orders");
      assert.equal(shown.status, 200);
      assert.equal(shown.body.sequence.name, "orders");
      assert.ok(shown.body.sequence.committed >= 1003);
      const list = await call("GET", "/v1/sequences");
      assert.deepEqual(list.body.sequences.map((s: { name: string }) => s.name), [
        "default",
        "orders",
        "plain",
      ]);
      assert.equal((await call("GET", "/v1/sequence/orders")).body.sequence.number, 1004);
    });

    await t.step("unknown names are 404, bad names and bodies 400", async () => {
      assert.equal((await call("GET", "/v1/sequence/missing")).status, 404);
      assert.equal((await call("GET", "/v1/sequences/missing")).status, 404);
      const badName = await call("PUT", "/v1/sequences/-bad");
      assert.equal(badName.status, 400);
      assert.match(badName.body.error, /sequence name "-bad" is invalid/);
      const badBody = await call("PUT", "/v1/sequences/x", '{"start": 1.5}');
      assert.equal(badBody.status, 400);
      assert.match(badBody.body.error, /start 1.5/);
      const tooBig = await call("PUT", "/v1/sequences/x", `{"start": ${INT64_MAX + 1n}}`);
      assert.equal(tooBig.status, 400);
      const huge = await call(
        "PUT",
        "/v1/sequences/x",
        `{"start": 1, "pad": "${"x".repeat(2000)}"}`,
      );
      assert.equal(huge.status, 413);
    });

    await t.step("numbers above 2^53 are exact in JSON and as strings", async () => {
      await call("PUT", "/v1/sequences/big", '{"start": 9007199254740993}');
      assert.equal(
        (await call("GET", "/v1/sequence/big")).text,
        '{"status":"ok","sequence":{"number":9007199254740993}}',
      );
      assert.equal(
        (await call("GET", "/v1/sequence/big?numbers=string")).text,
        '{"status":"ok","sequence":{"number":"9007199254740994"}}',
      );
    });

    await t.step("a sequence at the 64-bit maximum answers 409, never wraps", async () => {
      await call("PUT", "/v1/sequences/top", `{"start": "${INT64_MAX}"}`);
      assert.equal(
        (await call("GET", "/v1/sequence/top")).text,
        `{"status":"ok","sequence":{"number":${INT64_MAX}}}`,
      );
      const done = await call("GET", "/v1/sequence/top");
      assert.equal(done.status, 409);
      assert.equal(done.body.code, "exhausted");
      assert.match(done.body.error, /exhausted/);
    });

    await t.step("a batch larger than what is left is 409 saying how many remain", async () => {
      await call("PUT", "/v1/sequences/edge", `{"start": "${INT64_MAX - 2n}"}`);
      const refused = await call("GET", "/v1/sequence/edge?count=5");
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, "exhausted");
      assert.equal(refused.body.details.remaining, 3);
      assert.match(refused.body.error, /only 3 numbers left .* ask for at most 3/);
      const singles = [];
      for (let i = 0; i < 3; i++) singles.push((await call("GET", "/v1/sequence/edge")).status);
      assert.deepEqual(singles, [200, 200, 200]);
    });
  });
});

Deno.test("floors, retiring and a paginated list through the API", async (t) => {
  await withApi(async (call) => {
    await call("PUT", "/v1/sequences/inv");
    assert.equal((await call("GET", "/v1/sequence/inv")).body.sequence.number, 1);

    await t.step("PATCH raises the floor: the next number is at or above it", async () => {
      const res = await call("PATCH", "/v1/sequences/inv", '{"floor": "5000"}');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.changed, true);
      assert.equal(res.body.sequence.floor, 5000);
      assert.ok(res.body.sequence.committed >= 4999);
      assert.equal(res.body.next, res.body.sequence.committed + 1);
      assert.equal((await call("GET", "/v1/sequence/inv")).body.sequence.number, 5000);
    });

    await t.step("a floor at or below what is guaranteed changes nothing and says so", async () => {
      const res = await call("PATCH", "/v1/sequences/inv", '{"floor": 10}');
      assert.equal(res.status, 200);
      assert.equal(res.body.changed, false);
      assert.equal(res.body.sequence.floor, 5000, "the floor was lowered");
      assert.match(res.body.note, /nothing changed/);
      assert.ok((await call("GET", "/v1/sequence/inv")).body.sequence.number > 5000);
    });

    await t.step("bad floors are 400 naming the input; unknown names 404", async () => {
      const bad = await call("PATCH", "/v1/sequences/inv", '{"floor": 1.5}');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, "invalid");
      assert.equal((await call("PATCH", "/v1/sequences/nope", '{"floor": 5}')).status, 404);
    });

    await t.step("DELETE retires: 410 from then on, listed as retired", async () => {
      const res = await call("DELETE", "/v1/sequences/inv");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.changed, true);
      assert.equal(res.body.sequence.retired, true);
      const gone = await call("GET", "/v1/sequence/inv");
      assert.equal(gone.status, 410);
      assert.equal(gone.body.code, "retired");
      assert.equal((await call("GET", "/v1/sequence/inv?count=5")).status, 410);
      assert.equal((await call("DELETE", "/v1/sequences/inv")).body.changed, false);
      assert.equal((await call("GET", "/v1/sequences/inv")).body.sequence.retired, true);
    });

    await t.step("re-creating a retired name low is 409; above its bound it is new", async () => {
      const low = await call("PUT", "/v1/sequences/inv", '{"start": 1}');
      assert.equal(low.status, 409);
      assert.match(low.body.error, /retired/);
      const bound = (await call("GET", "/v1/sequences/inv")).body.sequence.committed;
      const high = await call("PUT", "/v1/sequences/inv", `{"start": ${bound + 1}}`);
      assert.equal(high.status, 201, high.text);
      assert.equal((await call("GET", "/v1/sequence/inv")).body.sequence.number, bound + 1);
    });

    await t.step("default cannot be retired", async () => {
      const res = await call("DELETE", "/v1/sequences/default");
      assert.equal(res.status, 409);
      assert.equal((await call("GET", "/v1/sequence")).status, 200);
    });

    await t.step("the list comes in pages that cover every name once", async () => {
      for (let i = 0; i < 25; i++) {
        await call("PUT", `/v1/sequences/p${String(i).padStart(2, "0")}`);
      }
      const names: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const query: string = after === null ? "limit=7" : `limit=7&after=${after}`;
        const page = await call("GET", `/v1/sequences?${query}`);
        assert.equal(page.status, 200);
        assert.ok(page.body.sequences.length <= 7);
        names.push(...page.body.sequences.map((s: { name: string }) => s.name));
        after = page.body.next;
        pages++;
      } while (after !== null);
      assert.equal(new Set(names).size, names.length, "a name came twice");
      assert.deepEqual(names, [...names].sort());
      assert.equal(names.filter((n) => n.startsWith("p")).length, 25);
      assert.ok(pages >= 4);
      assert.equal((await call("GET", "/v1/sequences?limit=0")).status, 400);
      assert.equal((await call("GET", "/v1/sequences?limit=1001")).status, 400);
    });
  });
});

Deno.test("Idempotency-Key: a retry gets exactly the first answer", async (t) => {
  await withApi(async (call) => {
    await t.step("the same key and request: the same numbers, marked replayed", async () => {
      const first = await call("GET", "/v1/sequence?count=3", undefined, '"k-1"');
      assert.equal(first.status, 200);
      assert.equal(first.headers.get("idempotency-replayed"), null);
      const other = await call("GET", "/v1/sequence");
      assert.ok(other.body.sequence.number > first.body.sequence.last);
      const retry = await call("GET", "/v1/sequence?count=3", undefined, '"k-1"');
      assert.equal(retry.status, 200);
      assert.equal(retry.text, first.text);
      assert.equal(retry.headers.get("idempotency-replayed"), "true");
      assert.equal(retry.headers.get("cache-control"), "no-store");
    });

    await t.step("the same key with another request is 422", async () => {
      for (const path of ["/v1/sequence?count=4", "/v1/sequence?count=3&numbers=string"]) {
        const res = await call("GET", path, undefined, '"k-1"');
        assert.equal(res.status, 422, path);
        assert.equal(res.body.code, "idempotency_mismatch");
      }
    });

    await t.step("a key whose first request is still in flight is 409", async () => {
      const [a, b] = await Promise.all([
        call("GET", "/v1/sequence", undefined, '"k-2"'),
        call("GET", "/v1/sequence", undefined, '"k-2"'),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409]);
      assert.equal((a.status === 409 ? a : b).body.code, "in_flight");
      const again = await call("GET", "/v1/sequence", undefined, '"k-2"');
      assert.equal(again.text, (a.status === 200 ? a : b).text);
    });

    await t.step("a malformed key is 400 and consumes nothing", async () => {
      const before = (await call("GET", "/v1/sequence")).body.sequence.number;
      for (const key of ['"', '""', '"a"b"', "a b", '"' + "x".repeat(256) + '"']) {
        const res = await call("GET", "/v1/sequence", undefined, key);
        assert.equal(res.status, 400, key);
        assert.match(res.body.error, /Idempotency-Key is invalid/);
      }
      assert.equal((await call("GET", "/v1/sequence")).body.sequence.number, before + 1);
    });

    await t.step("PUT, PATCH and DELETE replay their first answer, body included", async () => {
      const created = await call("PUT", "/v1/sequences/keyed", '{"start": 7}', '"k-3"');
      assert.equal(created.status, 201);
      const again = await call("PUT", "/v1/sequences/keyed", '{"start": 7}', '"k-3"');
      assert.equal(again.status, 201, "the retry is not told 200: it gets the first answer");
      assert.equal(again.text, created.text);
      const otherBody = await call("PUT", "/v1/sequences/keyed", '{"start": 8}', '"k-3"');
      assert.equal(otherBody.status, 422);
      const floor = await call("PATCH", "/v1/sequences/keyed", '{"floor": 100}', '"k-4"');
      const floorAgain = await call("PATCH", "/v1/sequences/keyed", '{"floor": 100}', '"k-4"');
      assert.equal(floorAgain.text, floor.text);
      assert.equal(floorAgain.body.changed, true, "the replay says what the first did");
      const retired = await call("DELETE", "/v1/sequences/keyed", undefined, '"k-5"');
      const retiredAgain = await call("DELETE", "/v1/sequences/keyed", undefined, '"k-5"');
      assert.equal(retiredAgain.text, retired.text);
      assert.equal(retiredAgain.body.changed, true);
    });

    await t.step("a 4xx answer is replayed too; a bare token key works", async () => {
      const missing = await call("GET", "/v1/sequence/nope", undefined, "token-6");
      assert.equal(missing.status, 404);
      await call("PUT", "/v1/sequences/nope");
      const retry = await call("GET", "/v1/sequence/nope", undefined, "token-6");
      assert.equal(retry.status, 404, "the retry was not given the first answer");
      assert.equal(retry.headers.get("idempotency-replayed"), "true");
    });
  });
});
