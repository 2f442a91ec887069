import assert from "node:assert/strict";
import fc from "fast-check";
import {
  allows,
  formatScopes,
  neededScopes,
  parseScopes,
  SCOPE_RULE,
  ScopeError,
  type Scopes,
} from "../scope.ts";

/** Valid sequence names. */
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

/** The grammar, written once more as one regular expression: the model the parser must match. */
const WORD =
  /^(admin|next:\*|next:[A-Za-z0-9][A-Za-z0-9._-]{0,63}(,[A-Za-z0-9][A-Za-z0-9._-]{0,63})*)$/;

/** Words near the grammar: pieces of valid words and troublemakers glued together. */
const nearWord = fc.array(
  fc.oneof(
    fc.constantFrom("admin", "next:", "next", ":", ",", "*", "next:*", "Admin", " ", "", "é", "-"),
    name,
  ),
  { maxLength: 5 },
).map((parts) => parts.join(""));

Deno.test("scope words follow the grammar exactly", async (t) => {
  await t.step("examples", () => {
    assert.deepEqual(parseScopes(["admin"]), { admin: true, allSequences: false, sequences: [] });
    assert.deepEqual(parseScopes(["next:*"]), { admin: false, allSequences: true, sequences: [] });
    assert.deepEqual(parseScopes(["next:orders,invoices", "next:orders"]), {
      admin: false,
      allSequences: false,
      sequences: ["invoices", "orders"],
    });
    for (
      const bad of [
        "ADMIN",
        "next:",
        "next:a,",
        "next:,a",
        "next:a,*",
        "next:**",
        "next:.a",
        "next: a",
        "read:a",
        "next:" + "a".repeat(65),
      ]
    ) {
      assert.throws(() => parseScopes([bad]), ScopeError, bad);
    }
    assert.throws(() => parseScopes([]), /no scope given/);
  });

  await t.step("a word is accepted exactly when the grammar's model accepts it (property)", () => {
    fc.assert(
      fc.property(fc.oneof(nearWord, fc.string()), (word) => {
        let accepted: boolean;
        try {
          parseScopes([word]);
          accepted = true;
        } catch (error) {
          if (!(error instanceof ScopeError)) throw error;
          assert.ok(error.message.endsWith(SCOPE_RULE), error.message);
          accepted = false;
        }
        assert.equal(accepted, WORD.test(word), JSON.stringify(word));
      }),
      { numRuns: 2000 },
    );
  });

  await t.step("formatting and parsing again gives the same scopes (property)", () => {
    const scopes = fc.record({
      admin: fc.boolean(),
      allSequences: fc.boolean(),
      sequences: fc.uniqueArray(name, { maxLength: 5 }),
    }).filter((s) => s.admin || s.allSequences || s.sequences.length > 0);
    fc.assert(fc.property(scopes, (s: Scopes) => {
      const parsed = parseScopes(formatScopes(s).split(" "));
      assert.deepEqual(parsed, {
        ...s,
        sequences: s.allSequences ? [] : [...s.sequences].sort(),
      });
    }));
  });

  await t.step("a refused word is never quoted in the message (property)", () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
    fc.assert(fc.property(secret, fc.constantFrom("", "next:", "next:a,"), (s, prefix) => {
      try {
        parseScopes([prefix + s]);
      } catch (error) {
        assert.ok(!(error as Error).message.includes(s));
      }
    }));
  });
});

Deno.test("scopes allow routes: admin everything, next:<name> its sequences, next:* all", () => {
  const admin = parseScopes(["admin"]);
  const all = parseScopes(["next:*"]);
  const orders = parseScopes(["next:orders"]);
  const next = { next: { param: "name" } } as const;
  assert.ok(allows(admin, "admin") && allows(admin, next, "x") && allows(admin, "open"));
  assert.ok(!allows(all, "admin") && allows(all, next, "x") && allows(all, next, undefined));
  assert.ok(allows(orders, next, "orders") && !allows(orders, next, "invoices"));
  assert.ok(!allows(orders, next, undefined) && !allows(orders, "admin"));
  assert.ok(allows(orders, "open"));
  assert.equal(neededScopes(next, "orders"), "next:orders, next:* or admin");
  assert.equal(neededScopes("admin"), "admin");
});
