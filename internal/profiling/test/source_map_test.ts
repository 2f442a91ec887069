import assert from "node:assert/strict";
import {
  decodeMappings,
  denoDir,
  loadLineMapper,
  originalLine,
  parseSourceMap,
} from "../source_map.ts";

Deno.test("source map mappings decode to original lines", async (t) => {
  await t.step("VLQ values: signs, multi-digit values, relative fields", () => {
    // line 0: col 0 → src line 0 col 0; col 4 → line 1 (C = +1) col 2
    // line 1: nothing; line 2: col 16 (gB) → line 1 + 123 (2H) col 2, then col 16 − 15 (f) →
    // same line, col 2 − 1 (D); segments come back sorted by column
    const map = decodeMappings("AAAA,IACE;;gBA2HA,fAAD");
    assert.deepEqual(map, [
      [
        { generatedColumn: 0, originalLine: 0, originalColumn: 0 },
        { generatedColumn: 4, originalLine: 1, originalColumn: 2 },
      ],
      [],
      [
        { generatedColumn: 1, originalLine: 124, originalColumn: 1 },
        { generatedColumn: 16, originalLine: 124, originalColumn: 2 },
      ],
    ]);
  });

  await t.step("one-field segments (no source) are skipped", () => {
    assert.deepEqual(decodeMappings("A,CAAA"), [[
      { generatedColumn: 1, originalLine: 0, originalColumn: 0 },
    ]]);
  });

  await t.step("bad input names the offset", () => {
    assert.throws(() => decodeMappings("AA!A"), /"!" at offset 2 is not base64/);
    assert.throws(() => decodeMappings("g"), /truncated at offset 1/);
  });

  await t.step("lookup takes the segment at or before the column, else the first", () => {
    const map = decodeMappings("AAAA,IACE,IAEA;;");
    assert.equal(originalLine(map, 0, 0), 0);
    assert.equal(originalLine(map, 0, 5), 1);
    assert.equal(originalLine(map, 0, 99), 3);
    assert.equal(originalLine(map, 1, 0), undefined);
    assert.equal(originalLine(map, 9, 0), undefined);
  });

  await t.step("an inline base64 map is found in emitted code", () => {
    const json = JSON.stringify({ version: 3, sources: ["a.ts"], mappings: ";AAEA" });
    const emitted = `x;\ny;\n//# sourceMappingURL=data:application/json;base64,${
      btoa(json)
    }\n// meta`;
    assert.equal(originalLine(parseSourceMap(emitted)!, 1, 0), 2);
    assert.equal(parseSourceMap("no map here"), undefined);
  });
});

Deno.test("Deno's cache directory and its cached emit", async (t) => {
  await t.step("DENO_DIR wins; otherwise the platform default", () => {
    const env = (vars: Record<string, string>) => (name: string) => vars[name];
    assert.equal(denoDir(env({ DENO_DIR: "/d", HOME: "/h" })), "/d");
    if (Deno.build.os === "linux") {
      assert.equal(denoDir(env({ HOME: "/h" })), "/h/.cache/deno");
      assert.equal(denoDir(env({ HOME: "/h", XDG_CACHE_HOME: "/x" })), "/x/deno");
      assert.equal(denoDir(env({})), undefined);
    }
  });

  await t.step("a URL without a cached emit maps to nothing, without throwing", async () => {
    const mapper = await loadLineMapper(["file:///nowhere/x.ts", "ext:core/01_core.js", ""]);
    assert.equal(mapper("file:///nowhere/x.ts", 0, 0), undefined);
    assert.equal(mapper("ext:core/01_core.js", 3, 0), undefined);
  });
});
