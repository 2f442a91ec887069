import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { createSha256 } from "../sha256.ts";

const sha256 = createSha256();
const hex = (text: string) => {
  const out = new Int32Array(8);
  sha256(text, out);
  return Array.from(out, (word) => (word >>> 0).toString(16).padStart(8, "0")).join("");
};
const reference = (text: string) => createHash("sha256").update(text).digest("hex");

Deno.test("SHA-256 in JavaScript is node:crypto's SHA-256", async (t) => {
  await t.step("FIPS 180-4 examples, and every padding boundary", () => {
    assert.equal(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(
      hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    for (let n = 0; n <= 200; n++) {
      assert.equal(hex("a".repeat(n)), reference("a".repeat(n)), `${n}`);
    }
  });

  await t.step("any string, as its UTF-8 bytes, long or short (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: "grapheme", maxLength: 600 }),
          fc.string({ unit: "binary", maxLength: 300 }),
        ),
        (text) => {
          assert.equal(hex(text), reference(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  await t.step("a long input after short ones, and short ones after it (buffers reused)", () => {
    const long = "é€😀x".repeat(2000);
    assert.equal(hex("short"), reference("short"));
    assert.equal(hex(long), reference(long));
    assert.equal(hex("short"), reference("short"));
  });
});
