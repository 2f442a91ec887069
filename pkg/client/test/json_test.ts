import assert from "node:assert/strict";
import fc from "fast-check";
import { parseJson } from "../json.ts";

const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** The oracle: `JSON.parse` with Deno's source-text reviver, integers as bigints. */
function oracle(text: string): unknown {
  return JSON.parse(
    text,
    ((_key: string, value: unknown, context?: { source?: string }) =>
      typeof value === "number" && INTEGER.test(context?.source ?? "")
        ? BigInt(context!.source!)
        : value) as (key: string, value: unknown) => unknown,
  );
}

function outcome(parse: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    assert.ok(error instanceof SyntaxError, `threw ${error}, not a SyntaxError`);
    return { ok: false };
  }
}

Deno.test("parseJson reads every JSON text as JSON.parse does, with integers as exact bigints", async (t) => {
  await t.step("any JSON value, compact or indented", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2, "\t"), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        assert.deepStrictEqual(parseJson(text), oracle(text));
      }),
      { numRuns: 2000 },
    );
  });

  await t.step("integers beyond 2^53 come back exact, in any nesting", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN * 4n, max: INT64_MAX * 4n }), (n) => {
        const text = `{"a":[${n},{"b":${n}}],"c":${n}.5,"d":${n}e0}`;
        const parsed = parseJson(text) as { a: [bigint, { b: bigint }]; c: number; d: number };
        assert.equal(parsed.a[0], n);
        assert.equal(parsed.a[1].b, n);
        assert.equal(typeof parsed.c, "number"); // a fraction or exponent is not an integer
        assert.equal(typeof parsed.d, "number");
      }),
    );
  });

  await t.step("texts that are not JSON are refused exactly when JSON.parse refuses them", () => {
    const mutated = fc.tuple(fc.json(), fc.nat(), fc.string({ maxLength: 3 })).map(
      ([text, at, insert]) => {
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + 1);
      },
    );
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string()), (text) => {
        const ours = outcome(() => parseJson(text));
        const theirs = outcome(() => oracle(text));
        assert.deepStrictEqual(ours, theirs, `text ${JSON.stringify(text)}`);
      }),
      { numRuns: 5000 },
    );
  });

  await t.step("edge cases", () => {
    for (
      const bad of ["", " ", "01", "-", "1.", ".5", "1e", "[1,]", "{,}", '{"a"}', '"\\x"', "nul"]
    ) {
      assert.throws(() => parseJson(bad), SyntaxError, bad);
    }
    assert.throws(() => parseJson('"a\u0001b"'), SyntaxError);
    assert.throws(() => parseJson("[".repeat(300) + "]".repeat(300)), /deeper than 256/);
    assert.deepStrictEqual(parseJson('{"__proto__":1}'), oracle('{"__proto__":1}'));
    assert.equal(Object.getPrototypeOf(parseJson('{"__proto__":{"x":1}}')), Object.prototype);
    assert.equal(parseJson('"\\ud83d\\ude00 \\u00e9"'), "\u{1f600} \u00e9");
    assert.equal(parseJson("-0"), 0n);
  });
});
