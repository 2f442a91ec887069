import assert from "node:assert/strict";
import fc from "fast-check";
import { type Reset, SequencerError } from "../../domain/domain.ts";
import {
  checkNumbering,
  checkTimezone,
  type CivilDate,
  formatNumber,
  parseFormat,
  PERIOD_KEY,
  periodKey,
  PeriodTracker,
  Zone,
} from "../period.ts";
import { CLOCK_OFFSET_ENV, clockOffsetMs, processClock } from "../clock.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The message of the `invalid` error `fn` throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SequencerError, `not a SequencerError: ${error}`);
    assert.equal(error.code, "invalid");
    return error.message;
  }
  assert.fail("nothing was refused");
}

/** Timezones with DST (some at midnight), odd offsets, and the date line moved. */
const ZONES = [
  "UTC",
  "Europe/Paris",
  "America/New_York",
  "America/Santiago", // DST starts at 24:00: some days begin at 01:00
  "America/Havana", // the same, at 00:00
  "Asia/Beirut", // the same
  "Australia/Lord_Howe", // a 30-minute DST
  "Pacific/Chatham", // +12:45 / +13:45
  "Asia/Kathmandu", // +05:45
  "Pacific/Kiritimati", // +14: the year begins 14 hours before UTC's
  "Pacific/Apia", // skipped 2011-12-30 entirely
  "America/St_Johns", // -03:30 with DST
];

const units = [1, 2, 3] as const;
const RESET_OF = { 1: "yearly", 2: "monthly", 3: "daily" } as const;

/** Instants from 1971 to 2100. */
const instants = fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) });

function key(zone: Zone, instant: number, unit: 1 | 2 | 3): string {
  return periodKey(zone.date(instant), RESET_OF[unit]);
}

Deno.test("periods: the span of an instant's year, month or day in a timezone", async (t) => {
  const zones = new Map(ZONES.map((name) => [name, new Zone(name)]));

  await t.step(
    "property: the instant lies in its span, the span's edges are the period's, DST or not",
    () => {
      fc.assert(
        fc.property(instants, fc.constantFrom(...ZONES), fc.constantFrom(...units), (t, tz, u) => {
          const zone = zones.get(tz)!;
          const { from, until, date } = zone.span(t, u);
          const k = key(zone, t, u);
          assert.ok(from <= t && t < until, `${t} outside [${from}, ${until})`);
          assert.equal(periodKey(date, RESET_OF[u]), k);
          assert.equal(key(zone, from, u), k, "the span's first instant is in another period");
          assert.equal(key(zone, until - 1, u), k, "the span's last instant is in another period");
          assert.notEqual(key(zone, from - 1, u), k, "the period began before the span");
          assert.notEqual(key(zone, until, u), k, "the period goes on after the span");
          // A day lasts 24 hours give or take a DST shift (Apia's skipped day aside).
          if (u === 3 && tz !== "Pacific/Apia") {
            assert.ok(until - from >= 22 * HOUR && until - from <= 26 * HOUR, `${until - from}`);
          }
        }),
        { numRuns: 3000 },
      );
    },
  );

  await t.step("every day, month and year of 2024-2027 follows the last, in every timezone", () => {
    // Walks span to span, so every DST transition of these years is crossed.
    for (const [tz, zone] of zones) {
      for (const unit of units) {
        let at = zone.span(Date.UTC(2024, 0, 1), unit).until;
        let previous = key(zone, at - 1, unit);
        while (at < Date.UTC(2027, 0, 1)) {
          const span = zone.span(at, unit);
          assert.equal(
            span.from,
            at,
            `${tz}: a gap or overlap before ${new Date(at).toISOString()}`,
          );
          const current = key(zone, at, unit);
          assert.ok(current > previous, `${tz}: ${current} follows ${previous}`);
          assert.equal(key(zone, span.until - 1, unit), current);
          previous = current;
          at = span.until;
        }
      }
    }
  });

  await t.step("property: fixed offsets agree with UTC arithmetic", () => {
    const fixed: [string, number][] = [["UTC", 0], ["Etc/GMT-14", 14 * HOUR], [
      "Etc/GMT+12",
      -12 * HOUR,
    ], ["Asia/Kolkata", 5.5 * HOUR]];
    fc.assert(
      fc.property(instants, fc.constantFrom(...fixed), fc.constantFrom(...units), (t, fx, u) => {
        const [tz, offset] = fx;
        const local = new Date(t + offset);
        const date: CivilDate = {
          year: local.getUTCFullYear(),
          month: local.getUTCMonth() + 1,
          day: local.getUTCDate(),
        };
        assert.deepEqual(new Zone(tz).date(t), date);
        assert.equal(key(new Zone(tz), t, u), periodKey(date, RESET_OF[u]));
      }),
      { numRuns: 500 },
    );
  });

  await t.step("Pacific/Kiritimati (UTC+14) enters 2027 at 10:00 UTC on 31 December", () => {
    const zone = zones.get("Pacific/Kiritimati")!;
    const newYear = Date.UTC(2026, 11, 31, 10);
    assert.equal(key(zone, newYear - 1, 1), "2026");
    assert.equal(key(zone, newYear, 1), "2027");
    assert.equal(new Date(newYear).getUTCFullYear(), 2026, "UTC is still in 2026");
    assert.equal(zone.span(newYear - 1, 1).until, newYear);
    assert.equal(zone.span(newYear, 1).from, newYear);
    assert.equal(key(zone, newYear, 3), "2027-01-01");
  });

  await t.step("DST: Paris has a 23-hour and a 25-hour day; Santiago's day starts at 01:00", () => {
    const paris = zones.get("Europe/Paris")!;
    const spring = paris.span(Date.UTC(2026, 2, 29, 12), 3);
    assert.deepEqual([spring.from, spring.until - spring.from], [
      Date.UTC(2026, 2, 28, 23),
      23 * HOUR,
    ]);
    const autumn = paris.span(Date.UTC(2026, 9, 25, 12), 3);
    assert.deepEqual([autumn.from, autumn.until - autumn.from], [
      Date.UTC(2026, 9, 24, 22),
      25 * HOUR,
    ]);
    // Midnight does not exist on 2026-09-06 in Santiago: the day begins at 01:00 (-03), 04:00Z.
    const santiago = zones.get("America/Santiago")!;
    const day = santiago.span(Date.UTC(2026, 8, 6, 12), 3);
    assert.equal(day.from, Date.UTC(2026, 8, 6, 4));
    assert.equal(day.until - day.from, 23 * HOUR);
    assert.deepEqual(santiago.date(day.from - 1), { year: 2026, month: 9, day: 5 });
    // Months and years span such days too.
    assert.equal(santiago.span(Date.UTC(2026, 8, 6, 12), 2).from, Date.UTC(2026, 8, 1, 4));
  });

  await t.step("Apia skipped 30 December 2011: the 29th ends where the 31st begins", () => {
    const apia = zones.get("Pacific/Apia")!;
    const before = apia.span(Date.UTC(2011, 11, 29, 12), 3);
    const after = apia.span(before.until, 3);
    assert.equal(key(apia, before.from, 3), "2011-12-29");
    assert.equal(key(apia, after.from, 3), "2011-12-31");
    assert.equal(after.from, before.until);
  });
});

Deno.test("periods: names and formats", async (t) => {
  await t.step("period names: 2026, 2026-11, 2026-11-27, zero-padded", () => {
    const date = { year: 2026, month: 11, day: 7 };
    assert.equal(periodKey(date, "yearly"), "2026");
    assert.equal(periodKey(date, "monthly"), "2026-11");
    assert.equal(periodKey(date, "daily"), "2026-11-07");
    assert.equal(periodKey({ year: 987, month: 1, day: 2 }, "daily"), "0987-01-02");
    fc.assert(
      fc.property(
        instants,
        fc.constantFrom("yearly", "monthly", "daily") as fc.Arbitrary<
          Exclude<Reset, "never">
        >,
        (t, reset) => PERIOD_KEY.test(periodKey(new Zone("UTC").date(t), reset)),
      ),
    );
  });

  await t.step("formats: tokens, zero padding, signs, digits beyond the width", () => {
    const date = { year: 2026, month: 3, day: 9 };
    const f = (format: string, n: bigint) => formatNumber(parseFormat(format), date, n);
    assert.equal(f("INV-{YYYY}-{N:6}", 1n), "INV-2026-000001");
    assert.equal(f("{YY}{MM}{DD}/{N}", 42n), "260309/42");
    assert.equal(f("{N:3}", 123456n), "123456");
    assert.equal(f("#{N:6}", -42n), "#-000042");
    assert.equal(f('a"b\\c {N:20}', 9223372036854775807n), 'a"b\\c 09223372036854775807');
    assert.equal(f("{N}", -9223372036854775807n), "-9223372036854775807");
    assert.equal(parseFormat("X{N}").unit, 0);
    assert.equal(parseFormat("{YY}-{N}").unit, 1);
    assert.equal(parseFormat("{N}{MM}").unit, 2);
    assert.equal(parseFormat("{DD}{YYYY}{N}").unit, 3);
  });

  await t.step("property: any valid format renders its literals, dates and number in order", () => {
    const literal = fc.string({ unit: fc.constantFrom(..."AZaz09-_/. #:\"'\\"), maxLength: 6 });
    const token = fc.constantFrom("{YYYY}", "{YY}", "{MM}", "{DD}");
    fc.assert(
      fc.property(
        fc.array(fc.oneof(literal, token), { maxLength: 4 }),
        fc.array(fc.oneof(literal, token), { maxLength: 4 }),
        fc.integer({ min: 0, max: 20 }),
        fc.bigInt({ min: 0n, max: 10n ** 19n }),
        (before, after, width, n) => {
          const number = width === 0 ? "{N}" : `{N:${width}}`;
          const format = [...before, number, ...after].join("");
          fc.pre(format.length <= 64);
          const date = { year: 2031, month: 12, day: 5 };
          const text = (pieces: string[]) =>
            pieces.join("").replaceAll("{YYYY}", "2031").replaceAll("{YY}", "31")
              .replaceAll("{MM}", "12").replaceAll("{DD}", "05");
          const expected = text(before) + n.toString().padStart(width, "0") + text(after);
          assert.equal(formatNumber(parseFormat(format), date, n), expected);
        },
      ),
    );
  });

  await t.step("bad formats are refused, naming the problem", () => {
    const cases: [string, RegExp][] = [
      ["", /it is empty/],
      ["INV-{YYYY}", /it has no \{N\} or \{N:k\}/],
      ["{N}-{N:2}", /it has 2 \{N\.\.\.\} tokens/],
      ["{N:0}", /\{N:0\} at position 1 is not a token/],
      ["{N:21}", /pads to more than 20 digits/],
      ["{N:05}", /\{N:05\} at position 1 is not a token/],
      ["{YYY}{N}", /\{YYY\} at position 1 is not a token/],
      ["{n}", /\{n\} at position 1 is not a token/],
      ["A{N", /the "\{" at position 2 is never closed/],
      ["A}{N}", /a "\}" at position 2 closes no token/],
      ["é{N}", /character "é" at position 1 is not printable ASCII/],
      ["\t{N}", /is not printable ASCII/],
      ["x".repeat(62) + "{N}", /it has 65 characters/],
    ];
    for (const [format, message] of cases) {
      const text = refusal(() => parseFormat(format));
      assert.match(text, message, format);
      assert.match(text, /^format ".*" is invalid: /);
      assert.match(text, /exactly one \{N\.\.\.\}/);
    }
  });

  await t.step("timezones: canonical IANA names; offsets, unknown and odd names refused", () => {
    assert.equal(checkTimezone("UTC"), "UTC");
    assert.equal(checkTimezone("europe/paris"), "Europe/Paris");
    assert.equal(checkTimezone("Pacific/Kiritimati"), "Pacific/Kiritimati");
    assert.equal(checkTimezone("Etc/GMT-14"), "Etc/GMT-14");
    for (const name of ["", "Mars/Olympus", "+01:00", "UTC+1", "../etc/passwd", "x".repeat(65)]) {
      assert.match(
        refusal(() => checkTimezone(name)),
        /^timezone .* is (invalid|unknown): must be an IANA/,
      );
    }
  });

  await t.step("numbering settings: defaults, canonical, and what has no effect refused", () => {
    assert.equal(checkNumbering({}), undefined);
    assert.equal(checkNumbering({ reset: "never" }), undefined);
    assert.equal(checkNumbering({ reset: "never", timezone: "UTC" }), undefined);
    assert.deepEqual(checkNumbering({ reset: "yearly" }), { reset: "yearly", timezone: "UTC" });
    assert.deepEqual(checkNumbering({ format: "{N:4}" }), {
      reset: "never",
      timezone: "UTC",
      format: "{N:4}",
    });
    assert.deepEqual(
      checkNumbering({ reset: "daily", timezone: "asia/tokyo", format: "D{YY}{MM}{DD}-{N}" }),
      { reset: "daily", timezone: "Asia/Tokyo", format: "D{YY}{MM}{DD}-{N}" },
    );
    assert.deepEqual(checkNumbering({ timezone: "Asia/Tokyo", format: "{YYYY}-{N}" }), {
      reset: "never",
      timezone: "Asia/Tokyo",
      format: "{YYYY}-{N}",
    });
    assert.match(refusal(() => checkNumbering({ reset: "weekly" })), /reset "weekly" is invalid/);
    assert.match(refusal(() => checkNumbering({ reset: 5 })), /reset 5 is invalid/);
    assert.match(refusal(() => checkNumbering({ timezone: 5 })), /timezone 5 is invalid/);
    assert.match(refusal(() => checkNumbering({ format: null })), /format null is invalid/);
    assert.match(
      refusal(() => checkNumbering({ timezone: "Europe/Paris" })),
      /timezone "Europe\/Paris" has no effect/,
    );
    assert.match(
      refusal(() => checkNumbering({ timezone: "Europe/Paris", format: "X{N}" })),
      /has no effect/,
    );
  });
});

Deno.test("periods: a tracker reads the clock and computes dates only at a boundary", async (t) => {
  await t.step("the same stamp within a period; the next one from the boundary on", () => {
    const tracker = new PeriodTracker({
      reset: "yearly",
      timezone: "Pacific/Kiritimati",
      format: "INV-{YYYY}-{N:6}",
    });
    const newYear = Date.UTC(2026, 11, 31, 10);
    const old = tracker.at(newYear - DAY);
    assert.equal(old.period, "2026");
    assert.equal(old.format!(1n), "INV-2026-000001");
    assert.equal(tracker.until, newYear);
    // Within the span the cached stamp itself comes back: nothing was computed.
    assert.equal(tracker.at(newYear - 1), old);
    const next = tracker.at(newYear);
    assert.notEqual(next, old);
    assert.equal(next.period, "2027");
    assert.equal(next.format!(12n), "INV-2027-000012");
    assert.equal(tracker.at(newYear + 100 * DAY), next);
    // A clock set back goes back to the period it shows.
    assert.equal(tracker.at(newYear - 1).period, "2026");
  });

  await t.step("a format without periods or dates never computes a date", () => {
    const tracker = new PeriodTracker({ reset: "never", timezone: "UTC", format: "A-{N}" });
    const stamp = tracker.at(0);
    assert.equal(stamp.period, undefined);
    assert.equal(stamp.format!(5n), "A-5");
    assert.equal(tracker.until, Infinity);
    assert.equal(tracker.at(Date.UTC(3000, 0, 1)), stamp);
  });

  await t.step("a format with days on a yearly reset changes its text daily", () => {
    const tracker = new PeriodTracker({ reset: "yearly", timezone: "UTC", format: "{MM}{DD}-{N}" });
    const a = tracker.at(Date.UTC(2026, 4, 1, 23, 59));
    const b = tracker.at(Date.UTC(2026, 4, 2));
    assert.equal(a.period, "2026");
    assert.equal(b.period, "2026");
    assert.deepEqual([a.format!(1n), b.format!(1n)], ["0501-1", "0502-1"]);
  });
});

Deno.test("the process clock: shifted only by a valid SEQUENCER_CLOCK_OFFSET_MS", () => {
  const saved = Deno.env.get(CLOCK_OFFSET_ENV);
  try {
    Deno.env.set(CLOCK_OFFSET_ENV, "-86400000");
    assert.equal(clockOffsetMs(), -86_400_000);
    const shifted = processClock()();
    const real = Date.now();
    // The shift is a day; the two reads are far less than an hour apart.
    assert.ok(Math.abs(real - DAY - shifted) < HOUR, `${real - shifted}`);
    for (const bad of ["", "1.5", "1e3", "abc", "99999999999999"]) {
      Deno.env.set(CLOCK_OFFSET_ENV, bad);
      assert.equal(clockOffsetMs(), 0, bad);
    }
    Deno.env.delete(CLOCK_OFFSET_ENV);
    assert.equal(clockOffsetMs(), 0);
  } finally {
    if (saved === undefined) Deno.env.delete(CLOCK_OFFSET_ENV);
    else Deno.env.set(CLOCK_OFFSET_ENV, saved);
  }
});
