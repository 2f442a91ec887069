import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { parseTokenFile, readTokenFile, TokenFileError, TOKENS_MAX } from "../token_file.ts";
import { newToken, toHex, TOKEN_BYTES, tokenDigest, tokenLine } from "../token.ts";
import { parseScopes } from "../scope.ts";

const FILE = "/etc/sequencer/tokens";
const hex = (token: string) => createHash("sha256").update(token).digest("hex");
const parse = (text: string) => parseTokenFile(text, { file: FILE });

Deno.test("a new token is 32 random bytes in base64url, and its line holds only its digest", () => {
  const tokens = Array.from({ length: 100 }, () => newToken());
  assert.equal(new Set(tokens).size, 100);
  for (const token of tokens) {
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(atob(token.replaceAll("-", "+").replaceAll("_", "/") + "=").length, TOKEN_BYTES);
  }
  const line = tokenLine(tokens[0], parseScopes(["next:orders,invoices"]));
  assert.equal(line, `${hex(tokens[0])} next:invoices,orders`);
  assert.ok(!line.includes(tokens[0]));
  assert.equal(toHex(tokenDigest(tokens[0])), hex(tokens[0]));
});

Deno.test("the token file: digests with scopes, comments and blank lines", async (t) => {
  const a = newToken(), b = newToken(), c = newToken();
  await t.step("every form of line", () => {
    const entries = parse(
      [
        "# the tokens of the orders service",
        "",
        `${hex(a)} next:orders,invoices   # orders`,
        `  ${hex(b).toUpperCase()}\tnext:*`,
        `${hex(c)} admin next:x\r`,
        "   # an indented comment",
      ].join("\n"),
    );
    assert.deepEqual(entries.map((e) => [toHex(e.digest), e.scopes, e.line]), [
      [hex(a), { admin: false, allSequences: false, sequences: ["invoices", "orders"] }, 3],
      [hex(b), { admin: false, allSequences: true, sequences: [] }, 4],
      [hex(c), { admin: true, allSequences: false, sequences: ["x"] }, 5],
    ]);
  });

  await t.step("an empty file, or only comments, holds no token", () => {
    assert.deepEqual(parse(""), []);
    assert.deepEqual(parse("# nobody yet\n\n"), []);
  });

  const cases: [string, string, RegExp][] = [
    [
      "the token instead of its digest",
      `# x\n${a} admin`,
      /line 2: the first word is not a SHA-256 digest/,
    ],
    ["a digest without scopes", `${hex(a)}`, /line 1: no scope given/],
    [
      "a bad scope",
      `\n\n${hex(a)} next:orders read:x`,
      /line 3: scope 2 is neither admin nor next/,
    ],
    ["a digest too short", `${hex(a).slice(1)} admin`, /line 1: the first word is not a SHA-256/],
    [
      "the same token twice",
      `${hex(a)} admin\n${hex(a).toUpperCase()} next:*`,
      /line 2: the same token as line 1/,
    ],
  ];
  for (const [what, text, message] of cases) {
    await t.step(`refused whole, naming the file and the line: ${what}`, () => {
      assert.throws(() => parse(text), (error: unknown) => {
        assert.ok(error instanceof TokenFileError);
        assert.match(error.message, new RegExp(`^AUTH_TOKENS_FILE=${FILE} line \\d+: `));
        assert.match(error.message, message);
        assert.ok(!error.message.includes(a), "the message quotes the token");
        assert.ok(!error.message.includes("\n"));
        return true;
      });
    });
  }

  await t.step(`at most ${TOKENS_MAX} tokens`, () => {
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => `${hex(String(i))} next:*`).join("\n");
    assert.equal(parse(lines(TOKENS_MAX)).length, TOKENS_MAX);
    assert.throws(() => parse(lines(TOKENS_MAX + 1)), /line 1001: more than 1000 tokens/);
  });

  await t.step("whatever a line holds, no error message quotes a token in it (property)", () => {
    const word = fc.oneof(
      fc.constantFrom("admin", "next:*", "next:a", "#", "x", hex(b)),
      fc.constant(a),
      fc.constant(`next:${a}`),
      fc.constant(`next:x,${a}`),
    );
    const line = fc.array(word, { maxLength: 4 }).map((w) => w.join(" "));
    fc.assert(fc.property(fc.array(line, { maxLength: 5 }), (lines) => {
      try {
        parse(lines.join("\n"));
      } catch (error) {
        assert.ok(error instanceof TokenFileError);
        assert.ok(!error.message.includes(a), error.message);
      }
    }));
  });
});

Deno.test("reading the token file: a missing file is one line naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-tokens-" });
  try {
    const token = newToken();
    await Deno.writeTextFile(`${dir}/tokens`, tokenLine(token, parseScopes(["admin"])) + "\n");
    const [entry] = await readTokenFile(`${dir}/tokens`);
    assert.equal(toHex(entry.digest), hex(token));
    await assert.rejects(
      readTokenFile(`${dir}/missing`),
      (e: unknown) =>
        e instanceof TokenFileError &&
        e.message.startsWith(`AUTH_TOKENS_FILE=${dir}/missing cannot be read: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
