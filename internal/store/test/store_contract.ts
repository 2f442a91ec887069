/**
 * The behaviour every {@link Store} must have, as test steps shared by the SQLite and PostgreSQL
 * store tests. `open` must return a fresh, empty store each time it is called.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DEFAULT_SEQUENCE,
  type ErrorCode,
  INT64_MAX,
  SequencerError,
  START_MIN,
} from "../../domain/domain.ts";
import type { Store } from "../store.ts";

/** A predicate for `assert.rejects`: a {@link SequencerError} with `code`. */
export function coded(code: ErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SequencerError, `expected a SequencerError, got ${error}`);
    assert.equal(error.code, code, `expected code ${code}: ${error.message}`);
    return true;
  };
}

/** Runs the store contract as steps of `t`. */
export async function storeContract(
  t: Deno.TestContext,
  open: () => Promise<Store>,
): Promise<void> {
  await t.step("the default sequence exists, starting at 1 with nothing reserved", async () => {
    const store = await open();
    try {
      assert.deepEqual(await store.get(DEFAULT_SEQUENCE), {
        name: DEFAULT_SEQUENCE,
        start: 1n,
        upper: 0n,
      });
      await store.ping();
    } finally {
      await store.close();
    }
  });

  await t.step("reserve returns consecutive disjoint blocks and raises the bound", async () => {
    const store = await open();
    try {
      assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 10n), { first: 1n, last: 10n });
      assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 5n), { first: 11n, last: 15n });
      assert.equal((await store.get(DEFAULT_SEQUENCE))?.upper, 15n);
    } finally {
      await store.close();
    }
  });

  await t.step("concurrent reservations never overlap", async () => {
    const store = await open();
    try {
      const blocks = await Promise.all(
        Array.from({ length: 50 }, () => store.reserve(DEFAULT_SEQUENCE, 7n)),
      );
      blocks.sort((a, b) => (a.first < b.first ? -1 : 1));
      for (let i = 0; i < blocks.length; i++) {
        assert.equal(blocks[i].first, 1n + 7n * BigInt(i));
        assert.equal(blocks[i].last, blocks[i].first + 6n);
      }
    } finally {
      await store.close();
    }
  });

  await t.step("create is idempotent and never changes an existing sequence", async () => {
    const store = await open();
    try {
      const first = await store.create("orders", 1000n);
      assert.deepEqual(first, {
        created: true,
        record: { name: "orders", start: 1000n, upper: 999n },
      });
      assert.deepEqual(await store.reserve("orders", 3n), { first: 1000n, last: 1002n });
      const again = await store.create("orders", 5n);
      assert.equal(again.created, false);
      assert.deepEqual(again.record, { name: "orders", start: 1000n, upper: 1002n });
      const names = (await store.list()).map((r) => r.name);
      assert.deepEqual(names, [DEFAULT_SEQUENCE, "orders"].sort());
    } finally {
      await store.close();
    }
  });

  await t.step("an unknown name is not_found for reserve and undefined for get", async () => {
    const store = await open();
    try {
      await assert.rejects(store.reserve("missing", 1n), (error) => {
        coded("not_found")(error);
        assert.equal((error as SequencerError).details?.sequence, "missing");
        return true;
      });
      assert.equal(await store.get("missing"), undefined);
    } finally {
      await store.close();
    }
  });

  await t.step("64-bit extremes are exact, clamp at INT64_MAX, then exhaust", async () => {
    const store = await open();
    try {
      await store.create("neg", START_MIN);
      assert.deepEqual(await store.reserve("neg", 2n), {
        first: -9223372036854775807n,
        last: -9223372036854775806n,
      });
      await store.create("top", INT64_MAX - 4n);
      assert.deepEqual(await store.reserve("top", 3n), {
        first: INT64_MAX - 4n,
        last: INT64_MAX - 2n,
      });
      assert.deepEqual(await store.reserve("top", 100n), {
        first: INT64_MAX - 1n,
        last: INT64_MAX,
      });
      await assert.rejects(store.reserve("top", 1n), coded("exhausted"));
      assert.equal((await store.get("top"))?.upper, INT64_MAX);
    } finally {
      await store.close();
    }
  });

  await t.step("a closed store refuses calls as unavailable", async () => {
    const store = await open();
    await store.close();
    await assert.rejects(store.reserve(DEFAULT_SEQUENCE, 1n), coded("unavailable"));
  });
}
