import assert from "node:assert/strict";
import fc from "fast-check";
import { SequenceTable, SlotState } from "../atomic_sequence.ts";

Deno.test("a slot hands out its block in order, then its standby, then nothing", async (t) => {
  await t.step("an empty slot hands out nothing and records the demand", () => {
    const table = SequenceTable.create(2);
    assert.equal(table.take(0, 0, 1n), undefined);
    assert.equal(table.refillDue, false);
    assert.deepEqual(table.demand(0), { demand: 1n, waiting: 0, standbySize: 0n });
    table.addWaiting(0, 1);
    table.addWaiting(0, 1);
    table.addWaiting(0, -1);
    assert.equal(table.demand(0).waiting, 1, "waiting takers are counted in and out");
    table.addWaiting(0, -1);
  });

  await t.step("block boundaries: the last number of a block, then the first of the next", () => {
    const table = SequenceTable.create(1);
    table.install(0, 1n, 3n);
    assert.equal(table.take(0, 0, 1n), 1n); // standby becomes current; standby now empty
    assert.equal(table.refillDue, true);
    table.publish(0, SlotState.Ok, true);
    table.install(0, 4n, 5n);
    assert.equal(table.take(0, 0, 1n), 2n);
    assert.equal(table.refillDue, false);
    assert.equal(table.take(0, 0, 1n), 3n);
    assert.equal(table.take(0, 0, 1n), 4n);
    assert.equal(table.take(0, 0, 1n), 5n);
    assert.equal(table.take(0, 0, 1n), undefined);
  });

  await t.step("a batch that does not fit the current block moves to the standby (a gap)", () => {
    const table = SequenceTable.create(1);
    table.install(0, 1n, 10n);
    assert.equal(table.take(0, 0, 4n), 1n);
    table.install(0, 11n, 30n);
    assert.equal(table.take(0, 0, 8n), 11n); // 5..10 are skipped, never handed out
    assert.equal(table.take(0, 0, 1n), 19n);
    assert.equal(table.take(0, 0, 13n), undefined);
    assert.equal(table.demand(0).demand, 13n);
  });

  await t.step("a block that is not above the last one is refused", () => {
    const table = SequenceTable.create(1);
    table.install(0, 100n, 200n);
    assert.throws(() => table.install(0, 150n, 300n), /not above/);
    assert.throws(() => table.install(0, 5n, 4n), /empty/);
  });

  await t.step("negative and extreme 64-bit blocks are exact", () => {
    const table = SequenceTable.create(1);
    table.install(0, -9223372036854775807n, -9223372036854775806n);
    assert.equal(table.take(0, 0, 1n), -9223372036854775807n);
    table.install(0, 9223372036854775806n, 9223372036854775807n);
    assert.equal(table.take(0, 0, 1n), -9223372036854775806n);
    assert.equal(table.take(0, 0, 2n), 9223372036854775806n);
    assert.equal(table.take(0, 0, 1n), undefined);
  });

  await t.step("the refill claim goes to exactly one caller until published", () => {
    const table = SequenceTable.create(1);
    assert.equal(table.claimRefill(0), true);
    assert.equal(table.claimRefill(0), false);
    table.publish(0, SlotState.Ok, false);
    assert.equal(table.claimRefill(0), false);
    table.publish(0, SlotState.Ok, true);
    assert.equal(table.claimRefill(0), true);
  });
});

Deno.test("any interleaving of takes and installs hands out each number at most once, increasing", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ take: fc.bigInt({ min: 1n, max: 20n }) }),
          fc.record({
            install: fc.bigInt({ min: 1n, max: 40n }),
            gap: fc.bigInt({ min: 0n, max: 5n }),
          }),
        ),
        { maxLength: 200 },
      ),
      (ops) => {
        const table = SequenceTable.create(1);
        let bound = 0n;
        let last = 0n;
        for (const op of ops) {
          if ("take" in op) {
            const first = table.take(0, 0, op.take);
            if (first === undefined) continue;
            assert.ok(first > last, `number ${first} is not above ${last}`);
            last = first + op.take - 1n;
            assert.ok(last <= bound, `number ${last} is past the installed bound ${bound}`);
          } else {
            const first = bound + 1n + op.gap;
            bound = first + op.install - 1n;
            table.install(0, first, bound);
          }
        }
      },
    ),
  );
});

Deno.test("worker threads taking from one shared slot never see the same number", async () => {
  const table = SequenceTable.create(1);
  table.install(0, 1n, 200_000n);
  table.take(0, 0, 0n + 1n); // move the block to current
  const source = `
    import { SequenceTable } from "${new URL("../atomic_sequence.ts", import.meta.url)}";
    self.onmessage = (e) => {
      const table = SequenceTable.attach(e.data);
      const got = [];
      for (let i = 0; i < 40000; i++) got.push(table.take(0, 0, 1n));
      self.postMessage(got);
    };`;
  const url = `data:application/typescript,${encodeURIComponent(source)}`;
  const results = await Promise.all([0, 1, 2, 3].map(() =>
    new Promise<bigint[]>((resolve) => {
      const worker = new Worker(url, { type: "module" });
      worker.onmessage = (e) => {
        worker.terminate();
        resolve(e.data);
      };
      worker.postMessage(table.memory);
    })
  ));
  const all = results.flat();
  assert.equal(all.length, 160_000);
  assert.ok(all.every((n) => n !== undefined));
  assert.equal(new Set(all).size, 160_000, "a number was handed out twice");
  for (const got of results) {
    for (let i = 1; i < got.length; i++) {
      assert.ok(got[i] > got[i - 1], "not increasing per thread");
    }
  }
  assert.equal(table.handed(0).numbers, 160_001n);
});

Deno.test("a slot given to another sequence: old bindings take nothing", async (t) => {
  await t.step("a take under an old binding takes nothing from the new sequence", () => {
    const table = SequenceTable.create(1);
    const first = table.rebind(0);
    table.install(0, 1n, 100n);
    assert.equal(table.take(0, first.binding, 1n), 1n);
    const second = table.rebind(0);
    assert.notEqual(second.binding, first.binding);
    assert.equal(second.handed, 1n, "the numbers handed out under the old binding are reported");
    table.install(0, 500n, 600n);
    assert.equal(table.take(0, first.binding, 1n), undefined, "took from another sequence");
    assert.equal(table.binding(0), second.binding);
    assert.equal(table.take(0, second.binding, 1n), 500n);
    assert.deepEqual(table.handed(0), { numbers: 1n, last: 500n });
  });
});

Deno.test("floors and retiring drop what lies below, never hand it out", async (t) => {
  await t.step("a floor inside the current block skips to it; the standby is cut", () => {
    const table = SequenceTable.create(1);
    table.install(0, 1n, 10n);
    assert.equal(table.take(0, 0, 1n), 1n);
    table.install(0, 11n, 20n);
    table.raiseFloor(0, 5n);
    assert.equal(table.take(0, 0, 1n), 5n);
    table.raiseFloor(0, 15n);
    assert.equal(table.take(0, 0, 1n), 15n, "the current block below the floor was handed out");
    assert.deepEqual(table.handed(0), { numbers: 3n, last: 15n });
  });

  await t.step("a floor above every block leaves nothing to hand out", () => {
    const table = SequenceTable.create(1);
    table.install(0, 1n, 10n);
    assert.equal(table.take(0, 0, 1n), 1n);
    table.install(0, 11n, 20n);
    table.raiseFloor(0, 100n);
    assert.equal(table.take(0, 0, 1n), undefined);
    assert.equal(table.remaining(0), 0n);
    assert.deepEqual(table.handed(0), { numbers: 1n, last: 1n });
  });

  await t.step("a floor below what was handed out changes nothing", () => {
    const table = SequenceTable.create(1);
    table.install(0, 1n, 10n);
    table.take(0, 0, 5n);
    table.raiseFloor(0, 3n);
    assert.equal(table.take(0, 0, 1n), 6n);
  });

  await t.step("a retired slot hands out nothing, and stays retired", () => {
    const table = SequenceTable.create(1);
    table.install(0, 1n, 10n);
    assert.equal(table.take(0, 0, 1n), 1n);
    const generation = table.generation(0);
    table.retire(0);
    assert.notEqual(table.generation(0), generation, "waiting takers were not woken");
    assert.equal(table.state(0), SlotState.Retired);
    assert.equal(table.take(0, 0, 1n), undefined);
    table.publish(0, SlotState.Ok, true);
    assert.equal(table.state(0), SlotState.Retired, "a refill result revived a retired slot");
  });

  await t.step(
    "any interleaving with floors: each number at most once, increasing, at or above every floor (property)",
    () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.record({ take: fc.bigInt({ min: 1n, max: 20n }) }),
              fc.record({
                install: fc.bigInt({ min: 1n, max: 40n }),
                gap: fc.bigInt({ min: 0n, max: 5n }),
              }),
              fc.record({ floor: fc.bigInt({ min: 0n, max: 60n }) }),
            ),
            { maxLength: 200 },
          ),
          (ops) => {
            const table = SequenceTable.create(1);
            let bound = 0n;
            let last = 0n;
            let floor = 0n;
            for (const op of ops) {
              if ("take" in op) {
                const first = table.take(0, 0, op.take);
                if (first === undefined) continue;
                assert.ok(first > last, `number ${first} is not above ${last}`);
                assert.ok(first >= floor, `number ${first} is below the floor ${floor}`);
                last = first + op.take - 1n;
                assert.ok(last <= bound, `number ${last} is past the installed bound ${bound}`);
              } else if ("install" in op) {
                // As the store does: a new block starts above the bound and at or above the floor.
                const first = (bound + 1n > floor ? bound + 1n : floor) + op.gap;
                bound = first + op.install - 1n;
                table.install(0, first, bound);
              } else {
                const raised = last + op.floor;
                if (raised > floor) floor = raised;
                table.raiseFloor(0, floor);
              }
            }
          },
        ),
      );
    },
  );
});
