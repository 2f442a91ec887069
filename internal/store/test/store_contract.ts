/**
 * The behaviour every {@link Store} must have, as test steps shared by the SQLite and PostgreSQL
 * store tests. `open` must return a fresh, empty store each time it is called.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../launch/eventually.ts";
import fc from "fast-check";
import {
  DEFAULT_SEQUENCE,
  type ErrorCode,
  INT64_MAX,
  type Numbering,
  type SequenceRecord,
  SequencerError,
  START_MIN,
} from "../../domain/domain.ts";
import {
  CHANGES_LIMIT,
  type ExportRecord,
  exportRecord,
  MERGE_BATCH,
  type Store,
} from "../store.ts";

/** A predicate for `assert.rejects`: a {@link SequencerError} with `code`. */
export function coded(code: ErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SequencerError, `expected a SequencerError, got ${error}`);
    assert.equal(error.code, code, `expected code ${code}: ${error.message}`);
    return true;
  };
}

/** A new sequence's record as a store returns it. */
export function fresh(name: string, start: bigint, upper = start - 1n): SequenceRecord {
  return { name, start, upper, floor: start, retired: false, version: 0n };
}

/** Every name of `store`, read in pages of `size`. */
export async function allNames(store: Store, size: number): Promise<string[]> {
  const names: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.list(after === undefined ? { limit: size } : { limit: size, after });
    assert.ok(page.length <= size, `a page of ${page.length} for limit ${size}`);
    names.push(...page.map((r) => r.name));
    if (page.length < size) return names;
    after = page[page.length - 1].name;
  }
}

/** Runs the store contract as steps of `t`. */
export async function storeContract(
  t: Deno.TestContext,
  open: () => Promise<Store>,
): Promise<void> {
  await t.step("the default sequence exists, starting at 1 with nothing reserved", async () => {
    const store = await open();
    try {
      assert.deepEqual(await store.get(DEFAULT_SEQUENCE), fresh(DEFAULT_SEQUENCE, 1n));
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

  await t.step(
    "giveBack lowers the bound only by compare-and-set, never below the floor",
    async () => {
      const store = await open();
      try {
        await store.reserve(DEFAULT_SEQUENCE, 100n); // 1..100
        assert.equal(await store.giveBack(DEFAULT_SEQUENCE, 90n, 10n), false, "expected was stale");
        assert.equal(await store.giveBack(DEFAULT_SEQUENCE, 100n, 100n), false, "nothing to lower");
        assert.equal(await store.giveBack(DEFAULT_SEQUENCE, 100n, 40n), true);
        assert.equal((await store.get(DEFAULT_SEQUENCE))?.upper, 40n);
        assert.deepEqual(await store.reserve(DEFAULT_SEQUENCE, 5n), { first: 41n, last: 45n });
        await store.raiseFloor(DEFAULT_SEQUENCE, 80n);
        const raised = (await store.get(DEFAULT_SEQUENCE))!.upper;
        assert.equal(await store.giveBack(DEFAULT_SEQUENCE, raised, 10n), raised > 79n);
        assert.equal((await store.get(DEFAULT_SEQUENCE))?.upper, 79n, "lowered below the floor");
        await store.create("gone", 1n);
        await store.reserve("gone", 10n);
        await store.retire("gone");
        assert.equal(await store.giveBack("gone", 10n, 0n), false, "a retired sequence lowered");
        assert.equal(await store.giveBack("nope", 10n, 0n), false);
      } finally {
        await store.close();
      }
    },
  );

  await t.step("keyed answers: the first stored answer wins, for good, until purged", async () => {
    const store = await open();
    try {
      const first = { key: "k1", fingerprint: "GET /v1/sequence", status: 200, body: '{"n":1}' };
      const other = { key: "k2", fingerprint: "GET /v1/sequence", status: 200, body: '{"n":2}' };
      assert.deepEqual(await store.saveAnswers([first, other]), [first, other]);
      const again = { ...first, body: '{"n":3}' };
      const retry = { key: "k1", fingerprint: "PUT /v1/sequences/x", status: 201, body: "{}" };
      assert.deepEqual(await store.saveAnswers([again, retry]), [first, first]);
      assert.deepEqual(await store.saveAnswers([]), []);
      assert.equal(await store.purgeAnswers(3_600_000, 100), 0, "a fresh answer was purged");
      assert.equal(await store.purgeAnswers(0, 1), 1);
      assert.equal(await store.purgeAnswers(0, 100), 1);
      assert.deepEqual(await store.saveAnswers([again]), [again], "a purged key is free again");
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
      assert.deepEqual(first, { created: true, record: fresh("orders", 1000n) });
      assert.deepEqual(await store.reserve("orders", 3n), { first: 1000n, last: 1002n });
      const again = await store.create("orders", 5n);
      assert.equal(again.created, false);
      assert.deepEqual(again.record, fresh("orders", 1000n, 1002n));
      const names = (await store.list({ limit: 100 })).map((r) => r.name);
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
  await t.step(
    "list pages cover every name exactly once, in byte order, for any page size",
    async () => {
      const store = await open();
      try {
        const names = [
          "A",
          "B-2",
          "a",
          "a.b",
          "a-b",
          "a_b",
          "a0",
          "aa",
          "b",
          "Z9",
          "0",
          "9.x",
          "x".repeat(64),
        ];
        for (let i = 0; i < 30; i++) names.push(`n${i}`);
        for (const name of names) await store.create(name, 1n);
        const expected = [DEFAULT_SEQUENCE, ...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 50 }), async (size) => {
            assert.deepEqual(await allNames(store, size), expected);
          }),
          { numRuns: 25 },
        );
        assert.deepEqual(
          (await store.list({ limit: 3, after: "a" })).map((r) => r.name),
          ["a-b", "a.b", "a0"],
        );
        assert.deepEqual(await store.list({ limit: 5, after: "zzz" }), []);
        await assert.rejects(store.list({ limit: 0 }), coded("invalid"));
        await assert.rejects(store.list({ limit: 1.5 }), coded("invalid"));
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "floors only rise: every later block starts at or above every floor asked for",
    async () => {
      const store = await open();
      try {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(
            fc.bigInt({ min: -1000n, max: 1000n }),
            fc.array(
              fc.oneof(
                fc.record({ reserve: fc.bigInt({ min: 1n, max: 50n }) }),
                fc.record({ floor: fc.bigInt({ min: -1100n, max: 3000n }) }),
              ),
              { maxLength: 12 },
            ),
            async (start, steps) => {
              const name = `floor-${run++}`;
              await store.create(name, start);
              let floor = start;
              let upper = start - 1n;
              let version = (await store.changes(0n)).version;
              for (const step of steps) {
                if ("reserve" in step) {
                  const block = await store.reserve(name, step.reserve);
                  assert.equal(block.first, upper + 1n);
                  assert.ok(block.first >= floor, `block ${block.first} below floor ${floor}`);
                  upper = block.last;
                } else {
                  const result = await store.raiseFloor(name, step.floor);
                  const raises = step.floor > floor;
                  assert.equal(result.changed, raises);
                  if (raises) {
                    floor = step.floor;
                    if (upper < floor - 1n) upper = floor - 1n;
                    version++;
                    assert.equal(result.record.version, version);
                  }
                  assert.equal(result.record.floor, floor);
                  assert.equal(result.record.upper, upper);
                  assert.equal((await store.changes(0n)).version, version);
                }
              }
              const stored = await store.get(name);
              assert.equal(stored?.floor, floor);
              assert.equal(stored?.upper, upper);
            },
          ),
          { numRuns: 30 },
        );
        await assert.rejects(store.raiseFloor("missing", 5n), coded("not_found"));
        await assert.rejects(store.raiseFloor(DEFAULT_SEQUENCE, INT64_MAX + 1n), coded("invalid"));
        await store.create("top", 1n);
        const top = await store.raiseFloor("top", INT64_MAX);
        assert.deepEqual([top.record.floor, top.record.upper], [INT64_MAX, INT64_MAX - 1n]);
        assert.deepEqual(await store.reserve("top", 10n), { first: INT64_MAX, last: INT64_MAX });
        await assert.rejects(store.reserve("top", 1n), coded("exhausted"));
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "changes lists each changed sequence once, after a version, read at one moment",
    async () => {
      const store = await open();
      try {
        assert.deepEqual(await store.changes(0n), { version: 0n, records: [] });
        await store.create("a", 1n);
        await store.create("b", 1n);
        await store.reserve("a", 10n);
        assert.deepEqual(await store.changes(0n), { version: 0n, records: [] });
        const raised = await store.raiseFloor("a", 5n);
        assert.equal(raised.record.version, 1n);
        const retiredB = await store.retire("b");
        assert.equal(retiredB.record.version, 2n);
        await store.raiseFloor("a", 3n);
        await store.retire("b");
        const all = await store.changes(0n);
        assert.equal(all.version, 2n);
        assert.deepEqual(all.records.map((r) => [r.name, r.version]), [["a", 1n], ["b", 2n]]);
        assert.deepEqual((await store.changes(1n)).records.map((r) => r.name), ["b"]);
        assert.deepEqual(await store.changes(2n), { version: 2n, records: [] });
        await store.raiseFloor("b", 100n);
        assert.deepEqual(
          (await store.changes(1n)).records.map((r) => [r.name, r.version, r.floor]),
          [["b", 3n, 100n]],
        );
        await assert.rejects(store.changes(-1n), coded("invalid"));
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "changes come in pages of whole versions, each call resuming where one ended",
    async () => {
      const store = await open();
      try {
        const records: ExportRecord[] = Array.from(
          { length: CHANGES_LIMIT + MERGE_BATCH / 2 },
          (_, i) => ({
            name: `c${i}`,
            start: 1n,
            committed: BigInt(i),
            floor: 1n,
            retired: false,
          }),
        );
        await store.merge(records);
        const first = await store.changes(0n);
        assert.equal(first.records.length, CHANGES_LIMIT);
        assert.equal(first.version, BigInt(CHANGES_LIMIT / MERGE_BATCH));
        assert.ok(first.records.every((r) => r.version <= first.version));
        const rest = await store.changes(first.version);
        assert.equal(rest.records.length, MERGE_BATCH / 2);
        assert.equal(rest.version, first.version + 1n);
        const names = new Set([...first.records, ...rest.records].map((r) => r.name));
        assert.equal(names.size, records.length);
        assert.deepEqual(await store.changes(rest.version), { version: rest.version, records: [] });
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "a retired sequence reserves nothing, stays listed, and revives only above its bound",
    async () => {
      const store = await open();
      try {
        await store.create("old", 10n);
        await store.reserve("old", 5n);
        const first = await store.retire("old");
        assert.equal(first.changed, true);
        assert.deepEqual(first.record, {
          name: "old",
          start: 10n,
          upper: 14n,
          floor: 10n,
          retired: true,
          version: 1n,
        });
        const again = await store.retire("old");
        assert.equal(again.changed, false);
        assert.equal(again.record.version, 1n);
        await assert.rejects(store.reserve("old", 1n), (error) => {
          coded("retired")(error);
          assert.equal((error as SequencerError).details?.sequence, "old");
          return true;
        });
        assert.equal((await store.get("old"))?.retired, true);
        assert.ok((await store.list({ limit: 10 })).some((r) => r.name === "old" && r.retired));
        for (const start of [1n, 10n, 14n]) {
          const low = await store.create("old", start);
          assert.equal(low.created, false);
          assert.deepEqual(low.record, first.record);
        }
        const revived = await store.create("old", 15n);
        assert.deepEqual(revived, {
          created: true,
          record: { name: "old", start: 15n, upper: 14n, floor: 15n, retired: false, version: 2n },
        });
        assert.deepEqual(await store.reserve("old", 3n), { first: 15n, last: 17n });
        assert.equal((await store.create("old", 100n)).created, false);
        await assert.rejects(store.retire("missing"), coded("not_found"));
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "heartbeats: lagging names the live replicas that have not applied a version",
    async () => {
      const store = await open();
      try {
        await store.heartbeat("r-a", 0n);
        await store.heartbeat("r-b", 5n);
        assert.deepEqual(await store.lagging(5n, 60_000), ["r-a"]);
        assert.deepEqual(await store.lagging(6n, 60_000), ["r-a", "r-b"]);
        assert.deepEqual(await store.lagging(0n, 60_000), []);
        await store.heartbeat("r-a", 7n);
        assert.deepEqual(await store.lagging(6n, 60_000), ["r-b"]);
        // Applied versions only rise (a late heartbeat does not take one back).
        await store.heartbeat("r-a", 3n);
        assert.deepEqual(await store.lagging(6n, 60_000), ["r-b"]);
        // A replica that stops sending drops out once its lease is over (by the store's clock).
        await eventually(
          "a 1 ms lease runs out",
          async () => (await store.lagging(100n, 1)).length === 0,
        );
        assert.deepEqual(await store.lagging(100n, 60_000), ["r-a", "r-b"]);
        await assert.rejects(store.heartbeat("", 1n), coded("invalid"));
        await assert.rejects(store.heartbeat("r", -1n), coded("invalid"));
        await assert.rejects(store.lagging(1n, 0), coded("invalid"));
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "numbering settings are stored with a sequence, shown, and never changed by create",
    async () => {
      const store = await open();
      try {
        const yearly = { reset: "yearly", timezone: "Europe/Paris", format: "INV-{YYYY}-{N:6}" };
        const created = await store.create("inv", 1n, yearly as Numbering);
        assert.deepEqual(created, { created: true, record: { ...fresh("inv", 1n), ...yearly } });
        assert.deepEqual(await store.get("inv"), created.record);
        const other = { reset: "daily", timezone: "UTC" } as Numbering;
        assert.deepEqual(await store.create("inv", 1n, other), {
          created: false,
          record: created.record,
        });
        assert.deepEqual(await store.create("inv", 1n), { created: false, record: created.record });
        const formatOnly = { reset: "never", timezone: "UTC", format: "A-{N}" } as Numbering;
        assert.deepEqual((await store.create("fmt", 7n, formatOnly)).record, {
          ...fresh("fmt", 7n),
          ...formatOnly,
        });
        const plain = await store.create("plain", 1n);
        assert.deepEqual(plain.record, fresh("plain", 1n), "a plain sequence gained fields");
        const listed = await store.list({ limit: 10 });
        assert.deepEqual(listed.find((r) => r.name === "inv"), created.record);
        assert.deepEqual(listed.find((r) => r.name === "plain"), plain.record);
        assert.deepEqual(exportRecord((await store.get("inv"))!), {
          name: "inv",
          start: 1n,
          committed: 0n,
          floor: 1n,
          retired: false,
          ...yearly,
        });
      } finally {
        await store.close();
      }
    },
  );

  await t.step(
    "periods (name@period) are sequences of their own, left out of listings on request, " +
      "retired with their sequence",
    async () => {
      const store = await open();
      try {
        const yearly = { reset: "yearly", timezone: "UTC" } as Numbering;
        await store.create("inv", 1n, yearly);
        for (const name of ["in", "inv-x", "inva", "inv.b", "inw"]) await store.create(name, 1n);
        await store.create("inv@2026", 1n);
        await store.create("inv@2027", 1n);
        assert.deepEqual(await store.reserve("inv@2026", 10n), { first: 1n, last: 10n });
        assert.deepEqual(await store.reserve("inv@2027", 3n), { first: 1n, last: 3n });
        assert.deepEqual(await store.reserve("inv-x", 20n), { first: 1n, last: 20n });
        const names = (page: { limit: number; after?: string; hidePeriods?: boolean }) =>
          store.list(page).then((records) => records.map((r) => r.name));
        assert.deepEqual(await names({ limit: 100, hidePeriods: true }), [
          DEFAULT_SEQUENCE,
          "in",
          "inv",
          "inv-x",
          "inv.b",
          "inva",
          "inw",
        ]);
        assert.ok((await names({ limit: 100 })).includes("inv@2026"), "periods hidden by default");
        assert.deepEqual(await names({ limit: 2, after: "inv", hidePeriods: true }), [
          "inv-x",
          "inv.b",
        ]);

        const version = (await store.changes(0n)).version;
        const retiredInv = await store.retire("inv");
        assert.equal(retiredInv.changed, true);
        // Its bound is the highest any period reached: a revival must start above it.
        assert.equal(retiredInv.record.upper, 10n);
        assert.equal(retiredInv.record.retired, true);
        assert.equal(retiredInv.record.reset, "yearly");
        const changed = await store.changes(version);
        assert.deepEqual(
          changed.records.map((r) => [r.name, r.retired, r.version]),
          [["inv", true, version + 1n], ["inv@2026", true, version + 1n], [
            "inv@2027",
            true,
            version + 1n,
          ]],
        );
        await assert.rejects(store.reserve("inv@2026", 1n), coded("retired"));
        for (const name of ["in", "inv-x", "inva", "inv.b", "inw"]) {
          assert.equal((await store.get(name))?.retired, false, `${name} was retired too`);
        }
        assert.equal((await store.retire("inv")).changed, false);
        assert.equal(
          (await store.changes(0n)).version,
          version + 1n,
          "a second retirement changed",
        );

        // Not revived at or below the highest bound of its periods.
        assert.equal((await store.create("inv", 10n, yearly)).created, false);
        const monthly = { reset: "monthly", timezone: "Asia/Tokyo", format: "M{N}" } as Numbering;
        const revived = await store.create("inv", 11n, monthly);
        assert.equal(revived.created, true);
        assert.deepEqual(revived.record, {
          ...fresh("inv", 11n),
          version: version + 2n,
          ...monthly,
        });
        // A period retired with it comes back above everything it handed out.
        assert.equal((await store.create("inv@2026", 11n)).created, true);
        assert.deepEqual(await store.reserve("inv@2026", 1n), { first: 11n, last: 11n });
      } finally {
        await store.close();
      }
    },
  );

  await t.step("merge carries numbering settings and periods; checks them", async () => {
    const store = await open();
    try {
      const records: ExportRecord[] = [
        {
          name: "m",
          start: 1n,
          committed: 0n,
          floor: 1n,
          retired: false,
          reset: "monthly",
          timezone: "America/New_York",
          format: "M-{YYYY}{MM}-{N:4}",
        },
        { name: "m@2026-01", start: 1n, committed: 40n, floor: 1n, retired: false },
        { name: "m@2026-02-03", start: 1n, committed: 2n, floor: 1n, retired: true },
      ];
      const result = await store.merge(records);
      assert.deepEqual(result.created, ["m", "m@2026-01", "m@2026-02-03"]);
      const m = (await store.get("m"))!;
      assert.deepEqual([m.reset, m.timezone, m.format], [
        "monthly",
        "America/New_York",
        "M-{YYYY}{MM}-{N:4}",
      ]);
      assert.deepEqual(exportRecord(m), records[0]);
      assert.deepEqual(await store.reserve("m@2026-01", 1n), { first: 41n, last: 41n });
      // An existing sequence keeps its own settings.
      await store.merge([{ ...records[0], reset: "daily", committed: 5n }]);
      assert.equal((await store.get("m"))?.reset, "monthly");
      const bad: [Partial<ExportRecord>, RegExp][] = [
        [{ name: "m@26" }, /the name/],
        [{ name: "m@2026-13" }, /the name/],
        [{ name: "x@2026", reset: "yearly" }, /a period has no numbering settings/],
        [{ reset: "hourly" as Numbering["reset"] }, /reset "hourly" is invalid/],
        [{ reset: "yearly", timezone: "Mars/Base" }, /timezone "Mars\/Base" is unknown/],
        [{ reset: "yearly", timezone: "europe/paris" }, /canonical timezone/],
        [{ reset: "yearly", format: "{N}{N}" }, /format "\{N\}\{N\}" is invalid/],
        [{ timezone: "UTC" }, /need reset/],
      ];
      for (const [change, message] of bad) {
        const record = {
          name: "b",
          start: 1n,
          committed: 0n,
          floor: 1n,
          retired: false,
          ...change,
        } as ExportRecord;
        await assert.rejects(store.merge([record]), (error) => {
          coded("invalid")(error);
          assert.match((error as Error).message, message);
          return true;
        });
      }
    } finally {
      await store.close();
    }
  });

  await t.step("merge creates, raises and retires, raise-only and idempotent", async () => {
    const store = await open();
    try {
      await store.create("kept", 1n);
      await store.reserve("kept", 100n);
      await store.create("behind", 1n);
      await store.create("to-retire", 1n);
      const records: ExportRecord[] = [
        { name: "kept", start: 1n, committed: 50n, floor: 20n, retired: false },
        { name: "behind", start: 1n, committed: 200n, floor: 10n, retired: false },
        { name: "new", start: 5n, committed: 40n, floor: 7n, retired: false },
        { name: "new-floor", start: 5n, committed: 4n, floor: 90n, retired: false },
        { name: "to-retire", start: 1n, committed: 0n, floor: 1n, retired: true },
        { name: "new-retired", start: 1n, committed: 9n, floor: 1n, retired: true },
        { name: "full", start: 1n, committed: INT64_MAX, floor: 1n, retired: false },
      ];
      const result = await store.merge(records);
      assert.deepEqual(result, {
        created: ["new", "new-floor", "new-retired", "full"],
        raised: ["kept", "behind"],
        retired: ["to-retire"],
      });
      const get = async (name: string) => {
        const r = (await store.get(name))!;
        return [r.start, r.upper, r.floor, r.retired];
      };
      // Numbers up to 50 were handed out where the export came from: none below 51 here.
      assert.deepEqual(await get("kept"), [1n, 100n, 51n, false]);
      assert.deepEqual(await get("behind"), [1n, 200n, 201n, false]);
      assert.deepEqual(await get("new"), [5n, 40n, 41n, false]);
      assert.deepEqual(await get("new-floor"), [5n, 89n, 90n, false]);
      assert.deepEqual(await get("to-retire"), [1n, 0n, 1n, true]);
      assert.deepEqual(await get("new-retired"), [1n, 9n, 10n, true]);
      assert.deepEqual(await get("full"), [1n, INT64_MAX, INT64_MAX, false]);
      const changed = await store.changes(0n);
      assert.equal(changed.records.length, 7);
      assert.ok(changed.records.every((r) => r.version > 0n && r.version <= changed.version));
      assert.deepEqual(await store.merge(records), { created: [], raised: [], retired: [] });
      assert.equal((await store.changes(0n)).version, changed.version);
      assert.deepEqual(await store.reserve("behind", 1n), { first: 201n, last: 201n });
      assert.deepEqual(await store.reserve("new", 1n), { first: 41n, last: 41n });
      await assert.rejects(store.reserve("new-retired", 1n), coded("retired"));
      await assert.rejects(store.reserve("full", 1n), coded("exhausted"));
      await assert.rejects(
        store.merge([
          { name: "ok", start: 1n, committed: 0n, floor: 1n, retired: false },
          { name: "bad", start: 5n, committed: 1n, floor: 5n, retired: false },
        ]),
        coded("invalid"),
      );
      assert.equal(await store.get("ok"), undefined);
      await assert.rejects(
        store.merge([{ name: "-x", start: 1n, committed: 0n, floor: 1n, retired: false }]),
        coded("invalid"),
      );
    } finally {
      await store.close();
    }
  });
}
