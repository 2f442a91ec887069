/**
 * The client against a real service process: typed answers, exact numbers above 2^53, every
 * error with the server's code, time limits and aborts against a frozen process (SIGSTOP).
 */
import assert from "node:assert/strict";
import { freePort } from "../../../internal/launch/ports.ts";
import { type RetryEvent, SequencerClient, SequencerClientError } from "../mod.ts";
import { coded, DEADLINE_MS, freeze, thaw, withService } from "./_helpers.ts";

const INT64_MAX = 9223372036854775807n;

/** Rejects if `promise` has not settled within the generous deadline (a hang is a failure). */
async function settles<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the client's calls on a real server return typed, exact values", async (t) => {
  await withService({}, async (service) => {
    const client = new SequencerClient(service.api);

    await t.step("next and nextBatch on the default sequence", async () => {
      const first = await client.next();
      assert.equal(typeof first, "bigint");
      const batch = await client.nextBatch(1000);
      assert.equal(batch.count, 1000);
      assert.equal(batch.last - batch.first, 999n);
      assert.ok(batch.first > first);
      assert.ok((await client.next()) > batch.last);
    });

    await t.step("create, get, list and numbers above 2^53, exact", async () => {
      const start = 2n ** 53n + 1n; // rounds to 2^53 as a float
      const created = await client.create("orders", start);
      assert.equal(created.created, true);
      assert.deepStrictEqual(
        { ...created.sequence, floor: undefined },
        { name: "orders", start, committed: start - 1n, floor: undefined, retired: false },
      );
      assert.equal((await client.create("orders", start)).created, false);
      assert.equal(await client.next({ sequence: "orders" }), start);
      const batch = await client.nextBatch(3, { sequence: "orders" });
      assert.deepStrictEqual(batch, { first: start + 1n, last: start + 3n, count: 3 });
      const info = await client.get("orders");
      assert.equal(info.start, start);
      assert.ok(info.committed >= start + 3n);
      const page = await client.list();
      assert.deepStrictEqual(page.sequences.map((s) => s.name), ["default", "orders"]);
      assert.equal(page.next, null);
      const all = [];
      for await (const sequence of client.listAll({ limit: 1 })) all.push(sequence.name);
      assert.deepStrictEqual(all, ["default", "orders"]);
    });

    await t.step(
      "raiseFloor: no number below the floor; a lower floor changes nothing",
      async () => {
        await client.create("floors");
        await client.next({ sequence: "floors" });
        const floor = 10n ** 15n;
        const raised = await client.raiseFloor("floors", floor);
        assert.equal(raised.changed, true);
        assert.equal(raised.sequence.floor, floor);
        assert.equal(raised.next, floor);
        assert.ok((await client.next({ sequence: "floors" })) >= floor);
        const lower = await client.raiseFloor("floors", 5);
        assert.equal(lower.changed, false);
        assert.equal(lower.sequence.floor, floor);
        assert.ok(lower.next !== null && lower.next > floor);
      },
    );

    await t.step("raiseFloor at the 64-bit top: next is null", async () => {
      await client.create("summit", INT64_MAX - 1n);
      await client.nextBatch(2, { sequence: "summit" });
      const result = await client.raiseFloor("summit", 1);
      assert.equal(result.changed, false);
      assert.equal(result.next, null);
    });

    await t.step("retire: then next-number calls fail with retired (410)", async () => {
      const prefetcher = client.prefetch({ sequence: "floors", eager: false });
      try {
        const retired = await client.retire("floors");
        assert.deepStrictEqual([retired.changed, retired.sequence.retired], [true, true]);
        assert.equal((await client.retire("floors")).changed, false);
        await assert.rejects(client.next({ sequence: "floors" }), coded("retired", 410));
        await assert.rejects(Promise.resolve(prefetcher.take()), coded("retired", 410));
        await assert.rejects(client.retire("default"), coded("conflict", 409));
      } finally {
        await prefetcher.close();
      }
    });

    await t.step("list pages with limit and after; listAll follows them", async () => {
      const names = ["p0", "p1", "p2", "p3", "p4"];
      for (const name of names) await client.create(name);
      const expected = ["default", "floors", "orders", ...names, "summit"];
      const first = await client.list({ limit: 3 });
      assert.deepStrictEqual(first.sequences.map((s) => s.name), expected.slice(0, 3));
      assert.equal(first.next, expected[2]);
      const second = await client.list({ limit: 3, after: first.next! });
      assert.deepStrictEqual(second.sequences.map((s) => s.name), expected.slice(3, 6));
      for (const limit of [1, 2, 4, 9, 1000]) {
        const all = [];
        for await (const sequence of client.listAll({ limit })) all.push(sequence.name);
        assert.deepStrictEqual(all, expected, `limit ${limit}`);
      }
      await assert.rejects(client.list({ limit: 1001 }), coded("invalid", 400));
    });

    await t.step("a base URL with a trailing slash works", async () => {
      const slashed = new SequencerClient(`${service.api}/`);
      assert.equal(slashed.baseUrl, service.api);
      assert.equal(typeof (await slashed.next()), "bigint");
    });
  });
});

Deno.test("errors carry the server's code, status and details, and only 'later' is retried", async (t) => {
  await withService({ SEQUENCES_MAX: "3", BATCH_MAX: "1000" }, async (service) => {
    const retries: RetryEvent[] = [];
    const client = new SequencerClient(service.api, { onRetry: (e) => retries.push(e) });

    await t.step("not_found", async () => {
      await assert.rejects(client.next({ sequence: "missing" }), (error) => {
        coded("not_found", 404)(error);
        const e = error as SequencerClientError;
        assert.deepStrictEqual(e.details, { sequence: "missing" });
        assert.equal(e.attempts, 1);
        assert.match(e.message, /"missing" does not exist \(GET \/v1\/sequence\/missing/);
        return true;
      });
    });

    await t.step("conflict", async () => {
      await client.create("c", 5);
      await assert.rejects(client.create("c", 6), coded("conflict", 409));
    });

    await t.step("invalid, from the server", async () => {
      await assert.rejects(client.create("big", INT64_MAX + 1n), coded("invalid", 400));
      await assert.rejects(client.nextBatch(1001), coded("invalid", 400));
    });

    await t.step("exhausted, with the exact remaining count", async () => {
      await client.create("top", INT64_MAX - 4n);
      await assert.rejects(client.nextBatch(10, { sequence: "top" }), (error) => {
        coded("exhausted", 409)(error);
        assert.equal((error as SequencerClientError).details.remaining, 5n);
        return true;
      });
      const batch = await client.nextBatch(5, { sequence: "top" });
      assert.equal(batch.last, INT64_MAX);
    });

    await t.step("too_many: a 503 with Retry-After that is not retried", async () => {
      // default, top and c are served: a fourth sequence is over SEQUENCES_MAX=3.
      await client.next({ sequence: "c" });
      await client.create("fourth");
      retries.length = 0;
      await assert.rejects(client.next({ sequence: "fourth" }), (error) => {
        coded("too_many", 503)(error);
        assert.equal((error as SequencerClientError).retryAfterMs, 1000);
        assert.equal((error as SequencerClientError).attempts, 1);
        return true;
      });
      assert.equal(retries.length, 0);
    });

    await t.step("a bad name or count is refused before any request", async () => {
      for (const name of ["", "..", "a/b", "-x", "x".repeat(65)]) {
        await assert.rejects(client.next({ sequence: name }), (error) => {
          coded("invalid")(error);
          assert.equal((error as SequencerClientError).status, undefined);
          return true;
        });
      }
      for (const count of [0, -1, 1.5, Number.NaN]) {
        await assert.rejects(client.nextBatch(count), coded("invalid"));
      }
      await assert.rejects(client.create("x", 2 ** 53), coded("invalid"));
    });
  });

  await t.step("network: nothing listens; retried, then the last error", async () => {
    const retries: RetryEvent[] = [];
    const client = new SequencerClient(`http://127.0.0.1:${freePort()}`, {
      retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      onRetry: (e) => retries.push(e),
    });
    await assert.rejects(client.next(), (error) => {
      coded("network")(error);
      assert.equal((error as SequencerClientError).attempts, 3);
      assert.equal((error as SequencerClientError).status, undefined);
      return true;
    });
    assert.deepStrictEqual(retries.map((r) => [r.attempt, r.error.code]), [
      [1, "network"],
      [2, "network"],
    ]);
  });
});

Deno.test("time limits and aborts on a frozen server", async (t) => {
  await withService({}, async (service) => {
    await t.step("the call's timeoutMs: code timeout", async () => {
      const client = new SequencerClient(service.api);
      await client.next(); // a connection and a block, before the freeze
      await freeze(service);
      try {
        await assert.rejects(client.next({ timeoutMs: 300 }), (error) => {
          coded("timeout")(error);
          assert.match((error as Error).message, /the call's time \(timeoutMs 300 ms\) ran out/);
          return true;
        });
      } finally {
        thaw(service);
      }
    });

    await t.step("an attempt that runs out of time is retried with the same key", async () => {
      let thawed = false;
      const retries: RetryEvent[] = [];
      const keys: (string | null)[] = [];
      const client = new SequencerClient(service.api, {
        attemptTimeoutMs: 300,
        timeoutMs: DEADLINE_MS,
        fetch(input, init) {
          keys.push(new Headers(init?.headers).get("idempotency-key"));
          return fetch(input, init);
        },
        onRetry(event) {
          retries.push(event);
          if (!thawed) {
            thawed = true;
            thaw(service);
          }
        },
      });
      await freeze(service);
      try {
        assert.equal(typeof (await client.nextBatch(10)).first, "bigint");
      } finally {
        thaw(service);
      }
      assert.equal(retries[0].error.code, "timeout");
      assert.match(retries[0].error.message, /attemptTimeoutMs 300 ms/);
      assert.equal(keys.length, retries.length + 1);
      assert.match(keys[0]!, /^"[0-9a-f-]{36}"$/);
      assert.ok(keys.every((key) => key === keys[0]), `keys ${keys}`);
      await client.next();
      assert.notEqual(keys.at(-1), keys[0]); // a new call, a new key
    });

    await t.step("an abort while the request waits: code aborted, with the reason", async () => {
      const client = new SequencerClient(service.api);
      await freeze(service);
      try {
        const controller = new AbortController();
        const call = client.next({ signal: controller.signal });
        const reason = new Error("user went away");
        setTimeout(() => controller.abort(reason), 0);
        await assert.rejects(settles("the aborted call", call), (error) => {
          coded("aborted")(error);
          assert.equal((error as Error).cause, reason);
          return true;
        });
      } finally {
        thaw(service);
      }
    });

    await t.step("an abort before the call: no request at all", async () => {
      let fetched = 0;
      const client = new SequencerClient(service.api, {
        fetch: (input, init) => {
          fetched++;
          return fetch(input, init);
        },
      });
      await assert.rejects(client.next({ signal: AbortSignal.abort() }), (error) => {
        coded("aborted")(error);
        assert.equal((error as SequencerClientError).attempts, 0);
        return true;
      });
      assert.equal(fetched, 0);
    });
  });

  await t.step("an abort during the backoff between attempts ends the wait at once", async () => {
    const controller = new AbortController();
    const client = new SequencerClient(`http://127.0.0.1:${freePort()}`, {
      timeoutMs: 7_200_000,
      retry: { attempts: Infinity, initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
      onRetry: () => controller.abort(),
    });
    // The backoff is up to an hour: only the abort can end the call before the deadline.
    await assert.rejects(
      settles("the call in its backoff", client.next({ signal: controller.signal })),
      coded("aborted"),
    );
  });
});

Deno.test("an invoice series through the client: created with its settings, numbers with period and text", async (t) => {
  await withService({}, async (service) => {
    const client = new SequencerClient(service.api);
    const settings = {
      reset: "yearly",
      timezone: "Europe/Paris",
      format: "INV-{YYYY}-{N:6}",
    } as const;

    await t.step("create sends the settings; get shows them", async () => {
      const created = await client.create("invoices", undefined, settings);
      assert.equal(created.created, true);
      assert.deepStrictEqual(
        [created.sequence.reset, created.sequence.timezone, created.sequence.format],
        [settings.reset, settings.timezone, settings.format],
      );
      assert.equal((await client.create("invoices", undefined, settings)).created, false);
      const other = await client.create("invoices", undefined, { ...settings, reset: "monthly" })
        .then(() => undefined, (error) => error);
      assert.ok(other instanceof SequencerClientError);
      assert.equal(other.code, "conflict");
      assert.equal((await client.get("invoices")).format, settings.format);
    });

    await t.step("take and nextBatch carry the period and the formatted numbers", async () => {
      const taken = await client.take({ sequence: "invoices" });
      assert.equal(taken.number, 1n);
      assert.match(taken.period ?? "", /^[0-9]{4}$/);
      assert.equal(taken.formatted, `INV-${taken.period}-000001`);
      const batch = await client.nextBatch(3, { sequence: "invoices" });
      assert.deepStrictEqual(batch, {
        first: 2n,
        last: 4n,
        count: 3,
        period: taken.period,
        formatted: `INV-${taken.period}-000002`,
        lastFormatted: `INV-${taken.period}-000004`,
      });
    });

    await t.step("a plain sequence's take is its number alone", async () => {
      const taken = await client.take();
      assert.deepStrictEqual(Object.keys(taken), ["number"]);
      assert.equal(typeof taken.number, "bigint");
    });
  });
});
