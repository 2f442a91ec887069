import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCreateBody, parseFloorBody, parseName } from "../parse.ts";
import { INT64_MAX, SequencerError, START_MIN } from "../../../domain/domain.ts";

/** The parse result as data: the value, or the `invalid` error's message. */
function attempt<T>(parse: () => T): { ok: true; value: T } | { ok: false; error: string } {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    assert.ok(error instanceof SequencerError && error.code === "invalid", String(error));
    return { ok: false, error: error.message };
  }
}

Deno.test("sequence names: 1-64 of [A-Za-z0-9._-], starting with a letter or digit", () => {
  for (const good of ["a", "orders", "Invoice.2026", "x-y_z", "9", "a".repeat(64)]) {
    assert.equal(attempt(() => parseName(good)).ok, true, good);
  }
  for (const bad of ["", "-a", ".a", "_a", "a b", "a/b", "é", "a".repeat(65), "%ZZ"]) {
    const parsed = attempt(() => parseName(bad));
    assert.equal(parsed.ok, false, bad);
  }
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (raw) => {
    const parsed = attempt(() => parseName(encodeURIComponent(raw)));
    return parsed.ok === /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw);
  }));
});

Deno.test("create body: optional start, exact to 64 bits", async (t) => {
  await t.step("empty body or {} starts at 1", () => {
    assert.equal(parseCreateBody("").start, 1n);
    assert.equal(parseCreateBody("{}").start, 1n);
  });

  await t.step("numbers beyond 2^53 are read exactly, as numbers or strings", () => {
    assert.equal(parseCreateBody('{"start": 9007199254740993}').start, 9007199254740993n);
    assert.equal(parseCreateBody(`{"start": "${INT64_MAX}"}`).start, INT64_MAX);
    assert.equal(parseCreateBody(`{"start": ${START_MIN}}`).start, START_MIN);
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
      const parsed = attempt(() => parseCreateBody(body));
      assert.equal(parsed.ok, false, body);
      if (!parsed.ok) assert.match(parsed.error, message);
    }
  });

  await t.step("any 64-bit start round-trips exactly (property)", () => {
    fc.assert(fc.property(fc.bigInt({ min: START_MIN, max: INT64_MAX }), (start) => {
      return parseCreateBody(`{"start": ${start}}`).start === start;
    }));
  });

  await t.step("any start outside 64 bits is refused (property)", () => {
    fc.assert(fc.property(
      fc.oneof(
        fc.bigInt({ min: INT64_MAX + 1n, max: INT64_MAX * 4n }),
        fc.bigInt({ min: START_MIN * 4n, max: START_MIN - 1n }),
      ),
      (start) => !attempt(() => parseCreateBody(`{"start": ${start}}`)).ok,
    ));
  });
});

Deno.test("floor body: one 64-bit integer, exact", async (t) => {
  await t.step("numbers and digit strings are read exactly", () => {
    assert.equal(parseFloorBody('{"floor": 9007199254740993}'), 9007199254740993n);
    assert.equal(parseFloorBody(`{"floor": "${INT64_MAX}"}`), INT64_MAX);
    assert.equal(parseFloorBody('{"floor": -5}'), -5n);
  });
  await t.step("anything else is refused naming the input", () => {
    const cases: [string, RegExp][] = [
      ["", /must be a JSON object like \{"floor": 1000\}/],
      ["{}", /must have "floor"/],
      ['{"floor": 1.5}', /floor 1.5 is invalid/],
      ['{"floor": {"source": "5"}}', /floor \{"source":"5"\} is invalid/],
      ['{"floor": 9223372036854775808}', /out of range/],
      ['{"floor": 1, "start": 2}', /field "start" is unknown/],
    ];
    for (const [body, message] of cases) {
      const parsed = attempt(() => parseFloorBody(body));
      assert.equal(parsed.ok, false, body);
      if (!parsed.ok) assert.match(parsed.error, message, body);
    }
  });
  await t.step("any 64-bit floor round-trips exactly (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: START_MIN, max: INT64_MAX }),
        (floor) =>
          parseFloorBody(`{"floor": ${floor}}`) === floor &&
          parseFloorBody(`{"floor": "${floor}"}`) === floor,
      ),
    );
  });
});
