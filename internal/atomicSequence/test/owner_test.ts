import assert from "node:assert/strict";
import { eventually } from "../../launch/eventually.ts";
import { type OwnerOptions, SequenceOwner } from "../owner.ts";
import { createSequences } from "../sequences.ts";
import { nextBlockSize } from "../block_size.ts";
import { openSqliteStore } from "../../store/sqlite_thread.ts";
import type { Store } from "../../store/store.ts";
import {
  type Block,
  DEFAULT_SEQUENCE,
  INT64_MAX,
  SequencerError,
  type Sequences,
  type Taken,
  unavailable,
} from "../../domain/domain.ts";
import { silentLogger } from "../../log/log.ts";
import { coded } from "../../store/test/store_contract.ts";

/** The sequences of these tests have no numbering settings: their numbers come back bare. */
interface Bare extends Omit<Sequences, "next"> {
  next(name: string, count: bigint): bigint | Promise<bigint>;
}

function bare(sequences: Sequences): Bare {
  const plain = (taken: Taken) => {
    if (typeof taken !== "bigint") throw new Error(`a stamped take: ${taken.stamp.period}`);
    return taken;
  };
  return {
    ...sequences,
    next(name, count) {
      const taken = sequences.next(name, count);
      return taken instanceof Promise ? taken.then(plain) : plain(taken);
    },
  };
}

/** Polls until `condition` holds (see `eventually`). */
const until = (condition: () => boolean | Promise<boolean>, what: string) =>
  eventually(what, condition);

/** A real SQLite store whose commits can be made to fail, as a full or read-only disk would. */
type FailingStore = Store & {
  /** The real store underneath. */
  inner: Store;
  /** Every reservation and ping fails while set. */
  failing: boolean;
  /** Sequences whose reservations fail while the store otherwise works. */
  failingNames: Set<string>;
  /** Every block reserved so far. */
  reservations: Block[];
};

function failingStore(inner: Store): FailingStore {
  const store: FailingStore = {
    ...inner,
    inner,
    failing: false,
    failingNames: new Set(),
    reservations: [],
    async reserve(name, size) {
      if (store.failing || store.failingNames.has(name)) {
        throw unavailable("injected: disk I/O error at commit");
      }
      const block = await inner.reserve(name, size);
      store.reservations.push(block);
      return block;
    },
    ping() {
      return store.failing ? Promise.reject(unavailable("injected")) : inner.ping();
    },
  };
  return store;
}

/** Retries an hour apart and no pings: only a success elsewhere can cut a backoff short. */
const SLOW_RETRY = { pingIntervalMs: 3_600_000, retryMs: { initial: 3_600_000, max: 3_600_000 } };

async function withService(
  fn: (client: Bare, store: FailingStore, owner: SequenceOwner) => Promise<void>,
  sizing = { min: 100n, max: 1_000_000n, growBelowMs: 1_000, shrinkAboveMs: 60_000 },
  timing: Partial<OwnerOptions> = { pingIntervalMs: 50, retryMs: { initial: 20, max: 100 } },
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-owner-" });
  const store = failingStore(await openSqliteStore(dir));
  const owner = await SequenceOwner.start(store, {
    logger: silentLogger,
    sizing,
    ...timing,
  });
  try {
    // A generous wait for blocks: a loaded machine may take seconds to commit one.
    await fn(bare(createSequences(owner.table, owner, { waitMs: 60_000 })), store, owner);
  } finally {
    await owner.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the allocator hands out every number once, in order, with no gaps in one lifetime", async (t) => {
  await t.step(
    "1000 concurrent increments, then the next is 1001 (the Go original's test)",
    async () => {
      await withService(async (client) => {
        await Promise.all(Array.from({ length: 1000 }, () => client.next(DEFAULT_SEQUENCE, 1n)));
        assert.equal(await client.next(DEFAULT_SEQUENCE, 1n), 1001n);
      });
    },
  );

  await t.step("20,000 concurrent requests get exactly 1..20,000 across many blocks", async () => {
    await withService(async (client, store) => {
      const got = await Promise.all(
        Array.from({ length: 20_000 }, () => client.next(DEFAULT_SEQUENCE, 1n)),
      );
      const sorted = [...got].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      sorted.forEach((n, i) => assert.equal(n, BigInt(i + 1)));
      assert.ok(store.reservations.length > 3, "expected several blocks");
    });
  });

  await t.step("every number handed out lies within a block committed before it", async () => {
    await withService(async (client, store) => {
      for (let i = 0; i < 2_000; i++) {
        const n = await client.next(DEFAULT_SEQUENCE, 1n);
        const committed = (await store.inner.get(DEFAULT_SEQUENCE))!.upper;
        assert.ok(n <= committed, `${n} handed out above the committed bound ${committed}`);
      }
    });
  });

  await t.step("a batch larger than any block is reserved whole", async () => {
    await withService(async (client) => {
      assert.equal(await client.next(DEFAULT_SEQUENCE, 1n), 1n);
      const first = await client.next(DEFAULT_SEQUENCE, 100_000n);
      assert.ok(first > 1n);
      const after = await client.next(DEFAULT_SEQUENCE, 1n);
      assert.ok(after >= first + 100_000n, "the batch's numbers were handed out again");
    });
  });
});

Deno.test("block sizes adapt to the rate within their bounds", async (t) => {
  const sizing = { min: 10n, max: 80n, growBelowMs: 1_000, shrinkAboveMs: 60_000 };
  await t.step("fast-draining blocks double, slow ones halve, both clamped", () => {
    assert.equal(nextBlockSize(10n, 5, sizing), 20n);
    assert.equal(nextBlockSize(80n, 5, sizing), 80n);
    assert.equal(nextBlockSize(40n, 5_000, sizing), 40n);
    assert.equal(nextBlockSize(40n, 120_000, sizing), 20n);
    assert.equal(nextBlockSize(10n, 120_000, sizing), 10n);
  });

  await t.step("under load the blocks grow from the minimum to the maximum", async () => {
    await withService(async (client, store) => {
      for (let i = 0; i < 2_000; i++) await client.next(DEFAULT_SEQUENCE, 1n);
      const sizes = store.reservations.map((b) => b.last - b.first + 1n);
      assert.equal(sizes[0], 10n);
      assert.ok(sizes.includes(80n), `sizes ${sizes.join(",")} never reached the maximum`);
      assert.ok(sizes.every((s) => s >= 10n && s <= 80n));
    }, sizing);
  });
});

Deno.test("a store that cannot commit gives errors, never a number past the committed bound", async (t) => {
  await t.step(
    "503-class errors when blocks run out, readiness off, then recovery by itself",
    async () => {
      await withService(async (client, store, owner) => {
        assert.equal(owner.ready(), true);
        const before: bigint[] = [];
        store.failing = true;
        let failure: unknown;
        for (let i = 0; i < 1_000; i++) {
          try {
            before.push(await client.next(DEFAULT_SEQUENCE, 1n));
          } catch (error) {
            failure = error;
            break;
          }
        }
        coded("unavailable")(failure);
        const bound = (await store.inner.get(DEFAULT_SEQUENCE))!.upper;
        assert.ok(before.every((n) => n <= bound));
        assert.equal(before.at(-1), bound, "the committed blocks are used up before failing");
        await assert.rejects(
          async () => await client.next(DEFAULT_SEQUENCE, 1n),
          coded("unavailable"),
        );
        await until(() => !owner.ready(), "readiness is off while the store fails");
        store.failing = false;
        let after: bigint | undefined;
        await until(async () => {
          try {
            after = await client.next(DEFAULT_SEQUENCE, 1n);
            return true;
          } catch (error) {
            coded("unavailable")(error);
            return false;
          }
        }, "the service resumes");
        assert.ok(after !== undefined && after > bound, "service did not resume above the bound");
        await until(() => owner.ready(), "readiness is on again");
        const stats = owner.stats();
        const def = stats.sequences.find((s) => s.name === DEFAULT_SEQUENCE)!;
        assert.equal(stats.storeUp, true);
        assert.ok(def.failures >= 1, "failed reservations were not counted");
        assert.equal(def.blocks, store.reservations.length);
        assert.equal(def.numbers, BigInt(before.length + 1));
        assert.equal(def.lastNumber, after);
      });
    },
  );

  await t.step(
    "readiness stays off while any sequence still waits for a block, though others are served",
    async () => {
      await withService(
        async (client, store, owner) => {
          await owner.create("a", 1n);
          store.failingNames.add("a");
          await drainUntilError(client, "a");
          assert.equal(owner.ready(), false);
          // Another sequence gets a block: the store answers, yet "a" is still not served.
          const before = store.reservations.length;
          await drainUntilNewBlock(client, store, before);
          assert.equal(owner.ready(), false, "ready while sequence a cannot get a block");
          await assert.rejects(async () => await client.next("a", 1n), coded("unavailable"));
        },
        undefined,
        SLOW_RETRY,
      );
    },
  );

  await t.step(
    "when the store answers again, sequences waiting out a backoff retry at once",
    async () => {
      await withService(
        async (client, store, owner) => {
          await owner.create("a", 1n);
          assert.equal(await client.next("a", 1n), 1n, "a's first block is 1…100");
          store.failing = true;
          await drainUntilError(client, "a");
          store.failing = false;
          // The default sequence's next block succeeds. "a" backs off for an hour, so only the
          // success cutting its backoff short can serve it before the deadline.
          await drainUntilNewBlock(client, store, store.reservations.length);
          // Until the retry commits, "a" fails fast with 503 (as a client sees it); poll it.
          let number: bigint | undefined;
          await until(async () => {
            try {
              number = await client.next("a", 1n);
              return true;
            } catch (error) {
              coded("unavailable")(error);
              return false;
            }
          }, "a is served again");
          assert.ok(number !== undefined && number > 100n, `a resumed at ${number}`);
          await until(() => owner.ready(), "readiness is on again");
        },
        undefined,
        SLOW_RETRY,
      );
    },
  );

  await t.step("a store failing at startup is an error, not a service at 1", async () => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-owner-" });
    const store = failingStore(await openSqliteStore(dir));
    store.failing = true;
    try {
      await assert.rejects(
        SequenceOwner.start(store, { logger: silentLogger }),
        coded("unavailable"),
      );
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("named sequences and the 64-bit limit", async (t) => {
  await t.step("unknown names are not found; created ones start where asked", async () => {
    await withService(async (client) => {
      await assert.rejects(async () => await client.next("nope", 1n), coded("not_found"));
      await client.create("orders", 500n);
      assert.equal(await client.next("orders", 1n), 500n);
      assert.equal(await client.next("orders", 3n), 501n);
      assert.equal(await client.next("orders", 1n), 504n);
    });
  });

  await t.step("a sequence near INT64_MAX ends with a clear error, never wraps", async () => {
    await withService(async (client) => {
      await client.create("top", INT64_MAX - 4n);
      assert.equal(await client.next("top", 2n), INT64_MAX - 4n);
      assert.equal(await client.next("top", 3n), INT64_MAX - 2n);
      await assert.rejects(async () => await client.next("top", 1n), coded("exhausted"));
      await assert.rejects(async () => await client.next("top", 1n), coded("exhausted"));
    });
  });

  await t.step(
    "a batch near the 64-bit top says how many remain; smaller ones still work",
    async () => {
      await withService(async (client) => {
        await client.create("edge", INT64_MAX - 2n);
        await assert.rejects(async () => await client.next("edge", 5n), (error: unknown) => {
          coded("exhausted")(error);
          const { message, details } = error as SequencerError;
          assert.match(message, /has only 3 numbers left below 9223372036854775807/);
          assert.match(message, /ask for at most 3/);
          assert.equal(details?.remaining, 3n);
          return true;
        });
        assert.equal(await client.next("edge", 1n), INT64_MAX - 2n);
        assert.equal(await client.next("edge", 1n), INT64_MAX - 1n);
        assert.equal(await client.next("edge", 1n), INT64_MAX);
        await assert.rejects(
          async () => await client.next("edge", 1n),
          /is exhausted: it has reached/,
        );
      });
    },
  );
});

Deno.test("blocks of one number: nothing is reserved ahead, so owners sharing a store stay in order", async (t) => {
  const one = { min: 1n, max: 1n, growBelowMs: 1_000, shrinkAboveMs: 60_000 };
  const upper = async (store: FailingStore) => (await store.inner.get(DEFAULT_SEQUENCE))!.upper;

  await t.step("startup reserves nothing; each number is committed when asked for", async () => {
    await withService(async (client, store, owner) => {
      assert.equal(owner.ready(), true);
      assert.equal(await upper(store), 0n, "a number was reserved before anyone asked");
      for (let n = 1n; n <= 5n; n++) {
        assert.equal(await client.next(DEFAULT_SEQUENCE, 1n), n);
        // Nothing more is reserved: the owner has no refill running once the answer is out.
        assert.equal(await upper(store), n, `a number beyond ${n} was reserved ahead`);
      }
      assert.equal(await client.next(DEFAULT_SEQUENCE, 4n), 6n, "a batch is reserved whole");
      assert.equal(await upper(store), 9n);
    }, one);
  });

  await t.step(
    "20 concurrent requests get exactly 1..20 in a few commits, and no more is reserved",
    async () => {
      await withService(async (client, store) => {
        const got = await Promise.all(
          Array.from({ length: 20 }, () => client.next(DEFAULT_SEQUENCE, 1n)),
        );
        assert.deepEqual(got.toSorted((a, b) => (a < b ? -1 : 1)), range(1n, 20n));
        assert.equal(await upper(store), 20n);
        const sizes = store.reservations.map((b) => b.last - b.first + 1n);
        assert.ok(sizes.length <= 4, `waiting requests did not share commits: blocks ${sizes}`);
      }, one);
    },
  );

  await t.step("two owners on one store, asked in turn, answer 1, 2, 3, … in order", async () => {
    await withService(async (first, store) => {
      const second = await SequenceOwner.start(store, { logger: silentLogger, sizing: one });
      try {
        const client = bare(createSequences(second.table, second, { waitMs: 60_000 }));
        const got: bigint[] = [];
        for (let i = 0; i < 20; i++) {
          got.push(await (i % 2 === 0 ? first : client).next(DEFAULT_SEQUENCE, 1n));
        }
        assert.deepEqual(got, range(1n, 20n));
      } finally {
        await second.close();
      }
    }, one);
  });

  await t.step("with the default sizing, blocks are reserved ahead (the contrast)", async () => {
    await withService(async (client, store) => {
      const before = await upper(store);
      assert.ok(before >= 100n, `the first block was not committed at startup: ${before}`);
      await client.next(DEFAULT_SEQUENCE, 1n);
      await until(async () => await upper(store) > before, "a standby block is reserved ahead");
    });
  });
});

function range(from: bigint, to: bigint): bigint[] {
  const out: bigint[] = [];
  for (let n = from; n <= to; n++) out.push(n);
  return out;
}

/** Takes numbers of `name` until the store's failure shows. */
async function drainUntilError(client: Bare, name: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    try {
      await client.next(name, 10n);
    } catch (error) {
      coded("unavailable")(error);
      return;
    }
  }
  assert.fail(`${name} never ran out of committed numbers`);
}

/** Takes default numbers until the store has committed a block after the first `count`. */
async function drainUntilNewBlock(
  client: Bare,
  store: FailingStore,
  count: number,
): Promise<void> {
  for (let i = 0; i < 100_000 && store.reservations.length === count; i++) {
    await client.next(DEFAULT_SEQUENCE, 10n);
  }
  assert.ok(store.reservations.length > count, "no new block was committed");
}

Deno.test("a full table gives the slot of the sequence idle longest to a new one, never a repeat", async (t) => {
  let now = 0;
  // Activity is observed when a slot is needed (pings are an hour apart here).
  const clock = { now: () => now, slotIdleMs: 60_000, capacity: 3, pingIntervalMs: 3_600_000 };
  await withService(
    async (client, _store, owner) => {
      for (const name of ["a", "b", "c", "d", "e"]) await owner.create(name, 1n);
      assert.equal(await client.next("a", 1n), 1n);
      now = 1_000;
      assert.equal(await client.next("b", 1n), 1n);
      const bound = () => owner.stats().sequences.map((s) => s.name).sort();

      await t.step(
        "while every slot was used within the idle time, a new name is too_many",
        async () => {
          now = 30_000;
          await assert.rejects(async () => await client.next("c", 1n), coded("too_many"));
          now = 50_000;
          assert.equal(await client.next("b", 1n), 2n);
        },
      );

      await t.step("once one is idle long enough, its slot serves the new name", async () => {
        now = 95_000; // a last seen active at 30 s, b at 95 s
        assert.equal(await client.next("c", 1n), 1n);
        assert.deepEqual(bound(), ["b", "c", "default"]);
      });

      await t.step(
        "the evicted name comes back above everything it handed out (a gap)",
        async () => {
          now = 200_000;
          const again = await client.next("a", 1n);
          assert.ok(again > 1n, `a answered ${again} again`);
          assert.deepEqual(bound(), ["a", "c", "default"]);
          now = 300_000;
          assert.ok((await client.next("b", 1n)) > 2n, "b answered a number again");
        },
      );

      await t.step("default is never given away", async () => {
        now = 10_000_000;
        assert.equal(await client.next("d", 1n), 1n);
        now += 100_000;
        assert.equal(await client.next("e", 1n), 1n);
        assert.ok(bound().includes("default"));
      });
    },
    undefined,
    clock,
  );
});
