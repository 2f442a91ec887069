import assert from "node:assert/strict";
import fc from "fast-check";
import { parseChoice, parseSeconds, type SecondsRule } from "../params.ts";

const RULE: SecondsRule = { name: "seconds", defaultValue: 30, min: 1, max: 300 };

function query(value: string | string[]): URLSearchParams {
  const params = new URLSearchParams();
  for (const v of Array.isArray(value) ? value : [value]) params.append("seconds", v);
  return params;
}

function isValid(raw: string): boolean {
  return /^[0-9]+$/.test(raw) && Number(raw) >= RULE.min && Number(raw) <= RULE.max;
}

/** Strings biased towards near misses: signs, blanks, fractions, exponents, hex, bounds. */
const secondsCandidates: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.tuple(fc.constantFrom("", " ", "+", "-", "0", "00", "\t"), fc.integer({ min: 0, max: 400 }))
    .map(([prefix, n]) => prefix + n),
  fc.integer({ min: 0, max: 400 }).map((n) => `${n}${["", " ", ".0", "e0", "s", "\n"][n % 6]}`),
  fc.constantFrom("", "0", "301", "1e2", "0x10", "1_0", "٣", "Infinity", "NaN", "9".repeat(400)),
);

Deno.test("seconds: only a plain decimal integer within the bounds is accepted", async (t) => {
  await t.step("absent gives the default", () => {
    assert.deepEqual(parseSeconds(new URLSearchParams(), RULE), { ok: true, value: 30 });
  });

  await t.step("bounds are inclusive; leading zeros are still a decimal integer", () => {
    assert.deepEqual(parseSeconds(query("1"), RULE), { ok: true, value: 1 });
    assert.deepEqual(parseSeconds(query("300"), RULE), { ok: true, value: 300 });
    assert.deepEqual(parseSeconds(query("007"), RULE), { ok: true, value: 7 });
  });

  await t.step("property: accepted exactly when the string is digits within [1, 300]", () => {
    fc.assert(
      fc.property(secondsCandidates, (raw) => {
        const result = parseSeconds(query(raw), RULE);
        assert.equal(result.ok, isValid(raw), `seconds=${JSON.stringify(raw)}`);
        if (result.ok) assert.equal(result.value, Number(raw));
        else {
          assert.match(result.message, /query parameter "seconds" must be a whole number/);
          assert.match(result.message, /from 1 to 300/);
          assert.ok(result.message.includes(JSON.stringify(raw)), "the message quotes the input");
        }
      }),
      { numRuns: 2000 },
    );
  });

  await t.step("a repeated parameter is rejected, even when each value is valid", () => {
    const result = parseSeconds(query(["2", "2"]), RULE);
    assert.deepEqual(result, {
      ok: false,
      message: `query parameter "seconds" must be given at most once, got 2 values`,
    });
  });
});

Deno.test("choice: absent gives the first choice; others are rejected by name", async (t) => {
  const allowed = ["pprof", "cpuprofile"] as const;
  await t.step("absent and listed values", () => {
    assert.deepEqual(parseChoice(new URLSearchParams(), "format", allowed), {
      ok: true,
      value: "pprof",
    });
    assert.deepEqual(parseChoice(new URLSearchParams("format=cpuprofile"), "format", allowed), {
      ok: true,
      value: "cpuprofile",
    });
  });
  await t.step("an unlisted or repeated value names the parameter and the choices", () => {
    const bad = parseChoice(new URLSearchParams("format=json"), "format", allowed);
    assert.equal(bad.ok, false);
    assert.equal(
      !bad.ok && bad.message,
      `query parameter "format" must be one of "pprof", "cpuprofile" (default "pprof"), got "json"`,
    );
    const twice = parseChoice(new URLSearchParams("format=pprof&format=pprof"), "format", allowed);
    assert.equal(twice.ok, false);
  });
});
