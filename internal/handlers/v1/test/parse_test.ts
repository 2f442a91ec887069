import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCount, parseCreateBody, parseName, parseNumberFormat } from "../parse.ts";
import { INT64_MAX, START_MIN } from "../../../store/store.ts";

const count = (query: string, max = 100_000) => parseCount(new URLSearchParams(query), max);

Deno.test("count: exactly one canonical integer from 1 to the cap", async (t) => {
  await t.step("absent means one number in the seed's shape", () => {
    assert.deepEqual(count(""), { ok: true, value: undefined });
  });

  await t.step("listed bad values are 400s naming count and the rule", () => {
    for (
      const query of [
        "count=0",
        "count=-1",
        "count=1.5",
        "count=",
        "count=abc",
        "count=1e3",
        "count=+5",
        "count=05",
        "count=%201",
        "count=100001",
        "count=99999999999999999999999",
        "count=1&count=2",
      ]
    ) {
      const parsed = count(query);
      assert.equal(parsed.ok, false, query);
      if (!parsed.ok) assert.match(parsed.error, /count.*must be one integer from 1 to 100000/);
    }
  });

  await t.step("every integer in range is accepted exactly (property)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => {
      const parsed = count(`count=${n}`);
      return parsed.ok && parsed.value === BigInt(n);
    }));
  });

  await t.step("any string that is not a canonical integer in range is refused (property)", () => {
    fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 1_000_000 }), (raw, max) => {
      const parsed = parseCount(new URLSearchParams([["count", raw]]), max);
      const valid = /^[1-9][0-9]*$/.test(raw) && BigInt(raw) <= BigInt(max);
      return parsed.ok === valid;
    }));
  });
});

Deno.test("numbers: number or string, once", () => {
  assert.deepEqual(parseNumberFormat(new URLSearchParams("")), { ok: true, value: "number" });
  assert.deepEqual(parseNumberFormat(new URLSearchParams("numbers=string")), {
    ok: true,
    value: "string",
  });
  for (const q of ["numbers=", "numbers=text", "numbers=string&numbers=string"]) {
    const parsed = parseNumberFormat(new URLSearchParams(q));
    assert.equal(parsed.ok, false);
  }
});

Deno.test("sequence names: 1-64 of [A-Za-z0-9._-], starting with a letter or digit", () => {
  for (const good of ["a", "orders", "Invoice.2026", "x-y_z", "9", "a".repeat(64)]) {
    assert.equal(parseName(good).ok, true, good);
  }
  for (const bad of ["", "-a", ".a", "_a", "a b", "a/b", "é", "a".repeat(65), "%ZZ"]) {
    const parsed = parseName(bad);
    assert.equal(parsed.ok, false, bad);
  }
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (raw) => {
    const parsed = parseName(encodeURIComponent(raw));
    return parsed.ok === /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw);
  }));
});

Deno.test("create body: optional start, exact to 64 bits", async (t) => {
  await t.step("empty body or {} starts at 1", () => {
    assert.deepEqual(parseCreateBody(""), { ok: true, value: 1n });
    assert.deepEqual(parseCreateBody("{}"), { ok: true, value: 1n });
  });

  await t.step("numbers beyond 2^53 are read exactly, as numbers or strings", () => {
    assert.deepEqual(parseCreateBody('{"start": 9007199254740993}'), {
      ok: true,
      value: 9007199254740993n,
    });
    assert.deepEqual(parseCreateBody(`{"start": "${INT64_MAX}"}`), { ok: true, value: INT64_MAX });
    assert.deepEqual(parseCreateBody(`{"start": ${START_MIN}}`), { ok: true, value: START_MIN });
  });

  await t.step("bad bodies are refused with a message naming the input", () => {
    const cases: [string, RegExp][] = [
      ["not json", /request body is not valid JSON/],
      ["[1]", /must be a JSON object/],
      ["5", /must be a JSON object/],
      ['{"start": 1.5}', /start 1.5 is invalid/],
      ['{"start": 1e3}', /start 1e3 is invalid/],
      ['{"start": 9223372036854775808}', /start 9223372036854775808 is out of range/],
      ['{"start": -9223372036854775808}', /out of range/],
      ['{"start": null}', /start null is invalid/],
      ['{"start": true}', /start true is invalid/],
      ['{"begin": 1}', /field "begin" is unknown/],
    ];
    for (const [body, message] of cases) {
      const parsed = parseCreateBody(body);
      assert.equal(parsed.ok, false, body);
      if (!parsed.ok) assert.match(parsed.error, message);
    }
  });

  await t.step("any 64-bit start round-trips exactly (property)", () => {
    fc.assert(fc.property(fc.bigInt({ min: START_MIN, max: INT64_MAX }), (start) => {
      const parsed = parseCreateBody(`{"start": ${start}}`);
      return parsed.ok && parsed.value === start;
    }));
  });

  await t.step("any start outside 64 bits is refused (property)", () => {
    fc.assert(fc.property(
      fc.oneof(
        fc.bigInt({ min: INT64_MAX + 1n, max: INT64_MAX * 4n }),
        fc.bigInt({ min: START_MIN * 4n, max: START_MIN - 1n }),
      ),
      (start) => !parseCreateBody(`{"start": ${start}}`).ok,
    ));
  });
});
