/**
 * The prefetcher against a real service process: synchronous takes from the buffer, the adaptive
 * batch size (under real load, and step by step with an injected clock), closing, waiting takes
 * with time limits and aborts, failures and recovery, the 64-bit top, and the `Idempotency-Key`
 * kept across refills whose answer is unknown.
 */
import assert from "node:assert/strict";
import { type Prefetcher, SequencerClient, SequencerClientError } from "../mod.ts";
import { coded, freeze, poll, thaw, withService } from "./_helpers.ts";

const INT64_MAX = 9223372036854775807n;

/** Takes one number, waiting for a refill when the buffer is empty. */
async function takeOne(prefetcher: Prefetcher): Promise<bigint> {
  return prefetcher.tryTake() ?? await prefetcher.take();
}

Deno.test("the prefetcher hands out numbers synchronously from its buffer", async (t) => {
  await withService({}, async (service) => {
    const client = new SequencerClient(service.api);

    await t.step("once filled, every buffered number is taken without waiting", async () => {
      const prefetcher = client.prefetch({ initialBatch: 500 });
      try {
        const buffered = await poll("the first batch arrives", () => {
          const { buffered } = prefetcher.stats();
          return buffered > 0 ? buffered : undefined;
        });
        assert.equal(buffered, 500);
        const seen = new Set<bigint>();
        for (let i = 0; i < buffered; i++) {
          const n = prefetcher.take();
          assert.equal(typeof n, "bigint", `take ${i} waited`);
          seen.add(n as bigint);
        }
        assert.equal(seen.size, buffered);
        assert.equal(prefetcher.stats().waits, 0);
        assert.equal(prefetcher.stats().taken, buffered);
      } finally {
        await prefetcher.close();
      }
    });

    await t.step("close drops the buffer (a gap) and ends every take", async () => {
      const prefetcher = client.prefetch({ initialBatch: 100 });
      await takeOne(prefetcher);
      const before = prefetcher.stats();
      await prefetcher.close();
      const after = prefetcher.stats();
      assert.equal(after.discarded, before.buffered);
      assert.equal(after.buffered, 0);
      assert.throws(() => prefetcher.tryTake(), coded("closed"));
      await assert.rejects(Promise.resolve(prefetcher.take()), coded("closed"));
      await prefetcher.close(); // twice is fine
    });

    await t.step("numbers of separate prefetchers never repeat", async () => {
      const prefetchers = Array.from({ length: 4 }, () => client.prefetch({ initialBatch: 50 }));
      const seen = new Set<bigint>();
      try {
        for (let i = 0; i < 2000; i++) {
          for (const prefetcher of prefetchers) {
            const n = await takeOne(prefetcher);
            assert.ok(!seen.has(n), `${n} repeated`);
            seen.add(n);
          }
        }
      } finally {
        await Promise.all(prefetchers.map((p) => p.close()));
      }
    });
  });
});

Deno.test("the prefetcher's batch adapts to how fast its buffer drains", async (t) => {
  await withService({}, async (service) => {
    const client = new SequencerClient(service.api);

    await t.step("under load the batch grows, from 10 to at least 10,000", async () => {
      // A batch should last an hour: any batch used up within half an hour doubles the next.
      const prefetcher = client.prefetch({
        initialBatch: 10,
        minBatch: 10,
        batchLifetimeMs: 3_600_000,
      });
      const seen = new Set<bigint>();
      try {
        await poll("the batch grows to 10,000", async () => {
          for (let i = 0; i < 1000; i++) seen.add(await takeOne(prefetcher));
          return prefetcher.stats().batchSize >= 10_000 || undefined;
        });
        const stats = prefetcher.stats();
        assert.equal(seen.size, stats.taken);
        assert.ok(stats.batches >= 10, `${stats.batches} batches`);
      } finally {
        await prefetcher.close();
      }
    });

    await t.step(
      "with an injected clock: halves when slow, doubles when fast, within bounds",
      async () => {
        let clock = 0;
        const prefetcher = client.prefetch({
          initialBatch: 1000,
          minBatch: 100,
          maxBatch: 4000,
          lowWater: 0.5,
          batchLifetimeMs: 1000,
          now: () => clock,
        });
        const seen = new Set<bigint>();
        /** Advances the clock, then takes numbers until the refill this triggers has arrived. */
        const round = async (advanceMs: number) => {
          clock += advanceMs;
          const before = prefetcher.stats().batches;
          while (prefetcher.stats().batches === before) seen.add(await takeOne(prefetcher));
          return prefetcher.stats().batchSize;
        };
        try {
          await poll(
            "the first batch arrives",
            () => prefetcher.stats().batches || undefined,
          );
          const sizes = [];
          for (let i = 0; i < 5; i++) {
            sizes.push(await round(10_000)); // each batch lasted 10 s
          }
          for (let i = 0; i < 7; i++) sizes.push(await round(1)); // each lasted 1 ms
          assert.deepStrictEqual(sizes, [
            500,
            250,
            125,
            100,
            100,
            200,
            400,
            800,
            1600,
            3200,
            4000,
            4000,
          ]);
          assert.equal(seen.size, prefetcher.stats().taken);
        } finally {
          await prefetcher.close();
        }
      },
    );
  });
});

Deno.test("the prefetcher's waiting takes, failures and limits", async (t) => {
  await withService({}, async (service) => {
    const client = new SequencerClient(service.api);

    await t.step("a waiting take's timeoutMs and signal, and close during a refill", async () => {
      await client.next();
      await freeze(service);
      try {
        const prefetcher = client.prefetch({ eager: false });
        await assert.rejects(
          Promise.resolve(prefetcher.take({ timeoutMs: 200 })),
          coded("timeout"),
        );
        const controller = new AbortController();
        const aborted = Promise.resolve(prefetcher.take({ signal: controller.signal }));
        controller.abort();
        await assert.rejects(aborted, coded("aborted"));
        const waiting = assert.rejects(Promise.resolve(prefetcher.take()), coded("closed"));
        await prefetcher.close(); // the refill to the frozen server is aborted
        await waiting;
        assert.equal(prefetcher.stats().batches, 0);
      } finally {
        thaw(service);
      }
    });

    await t.step(
      "a failed refill rejects the waiting takes; the next take tries again",
      async () => {
        const errors: SequencerClientError[] = [];
        const prefetcher = client.prefetch({ sequence: "later", onError: (e) => errors.push(e) });
        try {
          await assert.rejects(Promise.resolve(prefetcher.take()), coded("not_found"));
          assert.ok(errors.length >= 1 && errors.every((e) => e.code === "not_found"));
          await client.create("later", 7);
          assert.equal(await prefetcher.take(), 7n);
        } finally {
          await prefetcher.close();
        }
      },
    );

    await t.step(
      "at the 64-bit top every last number is handed out once, then exhausted",
      async () => {
        await client.create("top", INT64_MAX - 24n);
        const prefetcher = client.prefetch({ sequence: "top", minBatch: 10, maxBatch: 10 });
        try {
          for (let n = INT64_MAX - 24n; n <= INT64_MAX; n++) {
            assert.equal(await takeOne(prefetcher), n);
          }
          await assert.rejects(Promise.resolve(prefetcher.take()), (error) => {
            coded("exhausted")(error);
            assert.equal((error as SequencerClientError).details.remaining, 0n);
            return true;
          });
        } finally {
          await prefetcher.close();
        }
      },
    );

    await t.step(
      "a refill whose answer is unknown is repeated with its key and count",
      async () => {
        const sent: { key: string | null; url: string }[] = [];
        const keyed = new SequencerClient(service.api, {
          attemptTimeoutMs: 100,
          timeoutMs: 250,
          fetch(input, init) {
            sent.push({
              key: new Headers(init?.headers).get("idempotency-key"),
              url: String(input),
            });
            return fetch(input, init);
          },
        });
        await keyed.next();
        sent.length = 0;
        await freeze(service);
        const prefetcher = keyed.prefetch({ eager: false, initialBatch: 64, timeoutMs: 250 });
        try {
          await assert.rejects(Promise.resolve(prefetcher.take()), coded("timeout"));
          thaw(service);
          const n = await poll("a number after the thaw", async () => {
            try {
              return await prefetcher.take();
            } catch (error) {
              coded("timeout")(error); // the frozen process may take a moment to answer again
              return undefined;
            }
          });
          assert.equal(typeof n, "bigint");
          const keys = new Set(sent.map((s) => s.key));
          assert.equal(keys.size, 1, `keys ${[...keys]}`);
          assert.ok(sent.every((s) => s.url.includes("count=64&")), sent.map((s) => s.url).join());
          // Once answered, the next refill is a new request with a new key.
          for (let i = 0; i < 64; i++) await takeOne(prefetcher);
          assert.equal(new Set(sent.map((s) => s.key)).size, 2);
        } finally {
          thaw(service);
          await prefetcher.close();
        }
      },
    );
  });
});
