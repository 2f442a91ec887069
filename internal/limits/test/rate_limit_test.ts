import assert from "node:assert/strict";
import fc from "fast-check";
import { createRateLimit } from "../rate_limit.ts";

Deno.test("a token bucket per key: burst, refill, retry time, bounded keys", async (t) => {
  let now = 0;
  const limit = createRateLimit({ ratePerSec: 10, burst: 5, maxKeys: 3, now: () => now });

  await t.step("a burst passes, then the next waits for its token", () => {
    for (let i = 0; i < 5; i++) assert.equal(limit.take("a"), 0);
    assert.equal(limit.take("a"), 100, "one token comes every 100 ms");
    now += 100;
    assert.equal(limit.take("a"), 0);
  });

  await t.step("keys do not share their buckets", () => {
    assert.equal(limit.take("b"), 0);
    assert.equal(limit.take("a"), 100);
  });

  await t.step("a cost larger than the bucket holds is refused whole, with its wait", () => {
    assert.equal(limit.take("c", 3), 0);
    assert.equal(limit.take("c", 3), 100, "2 tokens left, 1 missing");
    now += 1_000;
    assert.equal(limit.take("c", 5), 0);
  });

  await t.step("past maxKeys the least recently used bucket is dropped", () => {
    limit.take("d");
    for (let i = 0; i < 5; i++) limit.take("a");
    assert.equal(limit.take("b"), 0, "b was dropped and starts full");
  });
});

Deno.test("over any run, what passes never exceeds the burst plus the rate times the time (property)", () => {
  fc.assert(fc.property(
    fc.array(
      fc.record({ wait: fc.integer({ min: 0, max: 500 }), cost: fc.integer({ min: 1, max: 8 }) }),
      {
        maxLength: 300,
      },
    ),
    (steps) => {
      let now = 0;
      const limit = createRateLimit({ ratePerSec: 20, burst: 10, now: () => now });
      let passed = 0;
      for (const step of steps) {
        now += step.wait;
        if (limit.take("k", step.cost) === 0) passed += step.cost;
        assert.ok(passed <= 10 + (now / 1000) * 20 + 1e-9, `${passed} passed by ${now} ms`);
      }
    },
  ));
});
