import assert from "node:assert/strict";
import { SequenceOwner } from "../owner.ts";
import { createSequences } from "../sequences.ts";
import { openSqliteStore } from "../../store/sqlite_thread.ts";
import type { Store } from "../../store/store.ts";
import { type Numbering, type Sequences, type Stamped, type Taken } from "../../domain/domain.ts";
import { periodKey, Zone } from "../../period/period.ts";
import { silentLogger } from "../../log/log.ts";
import { coded } from "../../store/test/store_contract.ts";

/** A settable clock (ms since the epoch), shared by an owner and its takers. */
interface Clock {
  now: number;
}

/** An owner and one thread's sequences on `store`, both on `clock`. */
async function serve(store: Store, clock: Clock) {
  const owner = await SequenceOwner.start(store, {
    logger: silentLogger,
    now: () => clock.now,
    // Small blocks, so that takes often wait for one (and waits straddle boundaries).
    sizing: { min: 20n, max: 200n, growBelowMs: 1_000, shrinkAboveMs: 60_000 },
  });
  const sequences = createSequences(owner.table, owner, { waitMs: 60_000, now: () => clock.now });
  return { owner, sequences };
}

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-periods-" });
  const store = await openSqliteStore(dir);
  try {
    await fn(store);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function stamped(taken: Taken): Stamped {
  assert.equal(typeof taken, "object", "a sequence with settings answered a bare number");
  return taken as Stamped;
}

/** One answer under load: when it was asked and answered (clock), what it got. */
interface Answer {
  asked: number;
  answered: number;
  first: bigint;
  count: bigint;
  period: string;
  formatted: string | undefined;
  lastFormatted: string | undefined;
}

/**
 * Walks the clock from `from` to `to` in `stepMs` steps; at each step `perStep` takes of 1 to 5
 * numbers are started at once, and every 10 steps the driver waits for those in flight (which
 * waited for a block may be answered after the clock moved on).
 */
async function load(
  sequences: Sequences,
  name: string,
  run: { clock: Clock; from: number; to: number; stepMs: number; perStep: number },
): Promise<Answer[]> {
  const { clock, from, to, stepMs, perStep } = run;
  const answers: Answer[] = [];
  let pending: Promise<void>[] = [];
  let step = 0;
  for (clock.now = from; clock.now < to; clock.now += stepMs, step++) {
    for (let i = 0; i < perStep; i++) {
      const count = BigInt(1 + ((step * 7 + i * 3) % 5));
      const asked = clock.now;
      pending.push(
        Promise.resolve(sequences.next(name, count)).then((taken) => {
          const { first, stamp } = stamped(taken);
          answers.push({
            asked,
            answered: clock.now,
            first,
            count,
            period: stamp.period!,
            formatted: stamp.format?.(first),
            lastFormatted: stamp.format?.(first + count - 1n),
          });
        }),
      );
    }
    if (step % 10 === 9) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return answers;
}

/** Per period, the numbers of `answers`: each once, and (one lifetime) 1..N with no gap. */
function checkPeriods(answers: Answer[], options: { dense: boolean }): Map<string, bigint[]> {
  const byPeriod = new Map<string, bigint[]>();
  for (const a of answers) {
    const numbers = byPeriod.get(a.period) ?? [];
    for (let n = a.first; n < a.first + a.count; n++) numbers.push(n);
    byPeriod.set(a.period, numbers);
  }
  for (const [period, numbers] of byPeriod) {
    const sorted = numbers.toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      assert.notEqual(sorted[i], sorted[i - 1], `${period}: ${sorted[i]} was answered twice`);
    }
    if (options.dense) {
      assert.equal(sorted[0], 1n, `${period} does not start at 1`);
      assert.equal(sorted.at(-1), BigInt(sorted.length), `${period} has a gap`);
    }
  }
  return byPeriod;
}

const BOUNDARIES: {
  what: string;
  numbering: Numbering;
  boundary: number;
  periods: [string, string];
  formatted: (period: string, n: bigint) => string;
}[] = [
  {
    what: "a year, in Pacific/Kiritimati (UTC+14: 14 hours before UTC's)",
    numbering: { reset: "yearly", timezone: "Pacific/Kiritimati", format: "INV-{YYYY}-{N:6}" },
    boundary: Date.UTC(2026, 11, 31, 10),
    periods: ["2026", "2027"],
    formatted: (period, n) => `INV-${period}-${String(n).padStart(6, "0")}`,
  },
  {
    what: "a month, in Europe/Paris (summer time)",
    numbering: { reset: "monthly", timezone: "Europe/Paris", format: "{YY}{MM}/{N}" },
    boundary: Date.UTC(2026, 2, 31, 22),
    periods: ["2026-03", "2026-04"],
    formatted: (period, n) => `${period.slice(2, 4)}${period.slice(5, 7)}/${n}`,
  },
  {
    what: "a day, in America/Santiago, on the day its midnight is skipped (it starts at 01:00)",
    numbering: { reset: "daily", timezone: "America/Santiago" },
    boundary: Date.UTC(2026, 8, 6, 4),
    periods: ["2026-09-05", "2026-09-06"],
    formatted: () => "",
  },
];

for (const { what, numbering, boundary, periods, formatted } of BOUNDARIES) {
  Deno.test(`periods in one process: crossing ${what} under concurrent load`, async (t) => {
    await withStore(async (store) => {
      const clock = { now: boundary - 60_000 };
      const { owner, sequences } = await serve(store, clock);
      const zone = new Zone(numbering.timezone);
      const reset = numbering.reset as Exclude<Numbering["reset"], "never">;
      try {
        await owner.create("inv", 1n, numbering);
        const answers = await load(sequences, "inv", {
          clock,
          // The boundary falls amid a group of steps, so takes wait for blocks across it.
          from: boundary - 2_045,
          to: boundary + 1_955,
          stepMs: 10,
          perStep: 25,
        });

        await t.step("a number belongs to the period the clock was in at its take", () => {
          assert.equal(answers.length, 400 * 25);
          for (const a of answers) {
            const earliest = periodKey(zone.date(a.asked), reset);
            const latest = periodKey(zone.date(a.answered), reset);
            assert.ok(
              earliest <= a.period && a.period <= latest,
              `${a.period} taken between ${earliest} and ${latest}`,
            );
            if (a.asked === a.answered) assert.equal(a.period, earliest);
          }
          assert.deepEqual([...new Set(answers.map((a) => a.period))].sort(), periods);
          // Some takes waited for a block across the boundary: the case that could go wrong.
          const straddling = answers.filter((a) => a.asked < boundary && a.answered >= boundary);
          assert.ok(straddling.length > 0, "no take waited across the boundary");
        });

        await t.step("each period starts at the start, and is dense, with no repeat", () => {
          const byPeriod = checkPeriods(answers, { dense: true });
          assert.ok(byPeriod.get(periods[1])!.length > 1000, "little was taken after the boundary");
        });

        await t.step("formatted numbers show the period and the number", () => {
          for (const a of answers) {
            if (numbering.format === undefined) {
              assert.equal(a.formatted, undefined);
              continue;
            }
            assert.equal(a.formatted, formatted(a.period, a.first));
            assert.equal(a.lastFormatted, formatted(a.period, a.first + a.count - 1n));
          }
        });

        await t.step("each period is a sub-sequence of its own in the store", async () => {
          for (const period of periods) {
            const sub = await store.get(`inv@${period}`);
            assert.equal(sub?.start, 1n);
            assert.equal(sub?.reset, undefined, "a period has settings of its own");
          }
          assert.equal((await store.get("inv"))?.upper, 0n, "numbers were taken from the parent");
          const current = owner.stats().periods.find((p) => p.sequence === "inv");
          assert.deepEqual(current, { sequence: "inv", period: periods[1] });
        });
      } finally {
        await owner.close();
      }
    });
  });
}

Deno.test("periods across restarts: a new period starts anew, an old one never repeats", async (t) => {
  await withStore(async (store) => {
    const numbering: Numbering = { reset: "yearly", timezone: "Pacific/Kiritimati" };
    const boundary = Date.UTC(2026, 11, 31, 10);
    const run = (from: number, to: number) => async (clock: Clock) => {
      const { owner, sequences } = await serve(store, clock);
      try {
        return await load(sequences, "inv", { clock, from, to, stepMs: 10, perStep: 10 });
      } finally {
        // Stopped without giving back: like a crash, its blocks are a gap.
        await owner.close();
      }
    };
    const clock = { now: 0 };
    await store.create("inv", 1n, numbering);
    const first = await run(boundary - 3_000, boundary - 1_000)(clock);
    const all = [...first];

    await t.step("before the boundary: 2026 from 1", () => {
      assert.ok(first.every((a) => a.period === "2026"));
      checkPeriods(first, { dense: true });
    });

    await t.step("restarted after it: 2027 from 1; the old sub-sequence is not used", async () => {
      const before = (await store.get("inv@2026"))!.upper;
      const second = await run(boundary + 1_000, boundary + 3_000)(clock);
      assert.ok(second.every((a) => a.period === "2027"));
      checkPeriods(second, { dense: true });
      assert.equal((await store.get("inv@2026"))!.upper, before, "2026 reserved again");
      all.push(...second);
    });

    await t.step("restarted with a clock behind: 2026 goes on above all it answered", async () => {
      const highest = first.reduce(
        (m, a) => (a.first + a.count - 1n > m ? a.first + a.count - 1n : m),
        0n,
      );
      const third = await run(boundary - 900, boundary - 100)(clock);
      assert.ok(third.every((a) => a.period === "2026"));
      assert.ok(third.every((a) => a.first > highest), "2026 answered a number again");
      all.push(...third);
      checkPeriods(all, { dense: false });
    });
  });
});

Deno.test("periods: retiring a sequence retires its periods; a revival starts above them", async (t) => {
  await withStore(async (store) => {
    const clock = { now: Date.UTC(2026, 5, 1) };
    const { owner, sequences } = await serve(store, clock);
    try {
      await owner.create("inv", 1n, { reset: "monthly", timezone: "UTC", format: "{N}" });
      const first = stamped(await sequences.next("inv", 5n));
      assert.deepEqual([first.first, first.stamp.period], [1n, "2026-06"]);

      await t.step(
        "retired: every take is retired (410), in this period and the next",
        async () => {
          await owner.retire("inv");
          await assert.rejects(async () => await sequences.next("inv", 1n), coded("retired"));
          clock.now = Date.UTC(2026, 6, 1);
          await assert.rejects(async () => await sequences.next("inv", 1n), (error) => {
            coded("retired")(error);
            assert.match((error as Error).message, /sequence "inv" is retired/);
            return true;
          });
          assert.equal((await store.get("inv@2026-06"))?.retired, true);
        },
      );

      await t.step(
        "created again above its periods' bound: other settings, numbers above",
        async () => {
          const revived = await owner.create("inv", 100n, { reset: "yearly", timezone: "UTC" });
          assert.equal(revived.created, true);
          const taken = stamped(await sequences.next("inv", 1n));
          assert.deepEqual([taken.first, taken.stamp.period, taken.stamp.format], [
            100n,
            "2026",
            undefined,
          ]);
        },
      );

      await t.step(
        "an unknown sequence is not_found; a period's name is not a sequence",
        async () => {
          await assert.rejects(async () => await sequences.next("nope", 1n), coded("not_found"));
          await assert.rejects(async () => await sequences.next("nope@2026", 1n), (error) => {
            coded("not_found")(error);
            assert.match((error as Error).message, /sequence "nope" does not exist/);
            return true;
          });
        },
      );
    } finally {
      await owner.close();
    }
  });
});

Deno.test("a format without periods: numbers formatted, from one sequence", async () => {
  await withStore(async (store) => {
    const clock = { now: Date.UTC(2026, 0, 1) - 1 };
    const { owner, sequences } = await serve(store, clock);
    try {
      await owner.create("tickets", 7n, { reset: "never", timezone: "UTC", format: "T{YY}-{N:3}" });
      const a = stamped(await sequences.next("tickets", 2n));
      clock.now += 1;
      const b = stamped(await sequences.next("tickets", 1n));
      assert.deepEqual(
        [a.first, a.stamp.period, a.stamp.format!(a.first), b.first, b.stamp.format!(b.first)],
        [7n, undefined, "T25-007", 9n, "T26-009"],
      );
      assert.deepEqual(owner.stats().periods, []);
    } finally {
      await owner.close();
    }
  });
});
