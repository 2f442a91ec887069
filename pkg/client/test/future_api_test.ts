/**
 * The client's calls for the parts of the API the server is about to get (bearer tokens, 429,
 * `Idempotency-Key`), against a stand-in HTTP server built from their agreed shape
 * (`_stand_in.ts`). Once the service has them, these run against it instead.
 */
import assert from "node:assert/strict";
import { type RetryEvent, SequencerClient, SequencerClientError } from "../mod.ts";
import { coded } from "./_helpers.ts";
import { startStandIn } from "./_stand_in.ts";

Deno.test("bearer tokens, 401 and 403, and 429 with Retry-After", async (t) => {
  const standIn = startStandIn({ token: "secret" });
  try {
    await t.step("no token: unauthorized, not retried", async () => {
      await assert.rejects(new SequencerClient(standIn.url).next(), (error) => {
        coded("unauthorized", 401)(error);
        assert.equal((error as SequencerClientError).attempts, 1);
        return true;
      });
    });

    await t.step("a token the server refuses for this: forbidden", async () => {
      const client = new SequencerClient(standIn.url, { token: "forbidden" });
      await assert.rejects(client.create("x"), coded("forbidden", 403));
    });

    await t.step("a token function is asked before every attempt", async () => {
      let asked = 0;
      const client = new SequencerClient(standIn.url, {
        token: () => Promise.resolve(++asked === 1 ? "stale" : "secret"),
        retry: { codes: ["unauthorized"], initialDelayMs: 0, maxDelayMs: 0 },
      });
      assert.equal(typeof (await client.next()), "bigint");
      assert.equal(asked, 2);
      assert.deepStrictEqual(standIn.seen.slice(-2).map((s) => s.authorization), [
        "Bearer stale",
        "Bearer secret",
      ]);
    });

    await t.step("429: retried after the server's Retry-After", async () => {
      const retries: RetryEvent[] = [];
      const client = new SequencerClient(standIn.url, {
        token: "secret",
        onRetry: (e) => retries.push(e),
      });
      standIn.intercept.push(() =>
        new Response(
          JSON.stringify({ status: "error", code: "rate_limited", error: "slow down" }),
          { status: 429, headers: { "retry-after": "0" } },
        )
      );
      assert.equal(typeof (await client.next()), "bigint");
      assert.equal(retries.length, 1);
      assert.equal(retries[0].error.code, "rate_limited");
      assert.equal(retries[0].error.retryAfterMs, 0);
      assert.equal(retries[0].delayMs, 0);
    });
  } finally {
    await standIn.close();
  }
});

Deno.test("Idempotency-Key: a retry gets the first answer, never a second batch", async (t) => {
  const standIn = startStandIn();
  try {
    await t.step("an attempt abandoned in flight: 409 in_flight, then the replay", async () => {
      standIn.hold();
      const retries: RetryEvent[] = [];
      const client = new SequencerClient(standIn.url, {
        attemptTimeoutMs: 100,
        retry: { attempts: Infinity, initialDelayMs: 1, maxDelayMs: 20 },
        onRetry(event) {
          retries.push(event);
          if (event.error.code === "in_flight") standIn.release(); // the first is served now
        },
      });
      const before = await client.get("default");
      const batch = await client.nextBatch(100);
      const codes = retries.map((r) => r.error.code);
      assert.equal(codes[0], "timeout", `${codes}`);
      assert.ok(codes.includes("in_flight"), `${codes}`);
      const after = await client.get("default");
      assert.equal(after.committed - before.committed, 100n, "one batch taken, not two");
      assert.equal(batch.first, before.committed + 1n);
      const keyed = standIn.seen.filter((s) => s.path.includes("count=100"));
      assert.ok(keyed.length >= 3);
      assert.ok(keyed.every((s) => s.key === keyed[0].key));
    });

    await t.step("the same key and request again: exactly the first answer", async () => {
      const client = new SequencerClient(standIn.url);
      const first = await client.nextBatch(5, { idempotencyKey: "order-42" });
      const again = await client.nextBatch(5, { idempotencyKey: "order-42" });
      assert.deepStrictEqual(again, first);
      assert.equal(standIn.seen.at(-1)!.key, '"order-42"');
    });

    await t.step(
      "the same key with another request: idempotency_mismatch, not retried",
      async () => {
        const client = new SequencerClient(standIn.url);
        await assert.rejects(client.nextBatch(6, { idempotencyKey: "order-42" }), (error) => {
          coded("idempotency_mismatch", 422)(error);
          assert.equal((error as SequencerClientError).attempts, 1);
          return true;
        });
      },
    );

    await t.step("idempotencyKeys: false sends none", async () => {
      const client = new SequencerClient(standIn.url, { idempotencyKeys: false });
      await client.next();
      assert.equal(standIn.seen.at(-1)!.key, null);
    });
  } finally {
    await standIn.close();
  }
});
