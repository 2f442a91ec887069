import assert from "node:assert/strict";
import { CATEGORIES, type CpuProfile, summarizeProfile } from "../profile_summary.ts";

const OURS = "file:///app/internal/handlers/router.ts";
const isOurs = (url: string) => url.startsWith("file:///app/");

/** A profile of one request path: dispatch → handler → Response → header op, plus idle and GC. */
function profile(): CpuProfile {
  const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3, 4, 9] },
      { id: 2, callFrame: frame("(idle)") },
      { id: 3, callFrame: frame("(garbage collector)") },
      { id: 4, callFrame: frame("nativeDispatch", "ext:deno_http/00_serve.ts"), children: [5] },
      { id: 5, callFrame: frame("handle", OURS), children: [6, 8] },
      { id: 6, callFrame: frame("Response", "ext:deno_fetch/23_response.js"), children: [7] },
      { id: 7, callFrame: frame("op_http_new_response_native_headers") },
      { id: 8, callFrame: frame("get url", "ext:deno_fetch/23_request.js") },
      { id: 9, callFrame: frame("setTimeout", "ext:deno_web/02_timers.js") },
    ],
    // idle ×10, GC ×1, dispatch self ×2, handler self ×3, header op ×4, url ×1, timer ×1
    samples: [
      ...Array(10).fill(2),
      3,
      4,
      4,
      5,
      5,
      5,
      7,
      7,
      7,
      7,
      8,
      9,
    ],
  };
}

Deno.test("profile summary: busy time by category and by function", async (t) => {
  const summary = summarizeProfile(profile(), isOurs, 3);

  await t.step("idle samples are counted in the total but not in the busy time", () => {
    assert.equal(summary.total, 22);
    assert.equal(summary.busy, 12);
  });

  await t.step("a sample inside Response counts as building it, whoever called it", () => {
    const byName = Object.fromEntries(summary.categories.map((c) => [c.name, c.samples]));
    assert.deepEqual(byName, {
      [CATEGORIES.response]: 4,
      [CATEGORIES.ours]: 3,
      [CATEGORIES.runtime]: 2,
      [CATEGORIES.gc]: 1,
      [CATEGORIES.url]: 1,
      [CATEGORIES.other]: 1,
    });
    assert.equal(summary.categories[0].name, CATEGORIES.response);
    assert.equal(summary.categories[0].share, 4 / 12);
    const sum = summary.categories.reduce((s, c) => s + c.share, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9);
  });

  await t.step("the top functions by self time, with short file names", () => {
    assert.deepEqual(summary.top.map((f) => [f.name, f.samples]), [
      ["op_http_new_response_native_headers", 4],
      ["handle (handlers/router.ts)", 3],
      ["nativeDispatch (ext:deno_http/00_serve.ts)", 2],
    ]);
  });

  await t.step("a profile of an idle process has no busy time and no shares", () => {
    const idle = summarizeProfile({ nodes: profile().nodes, samples: [2, 2] }, isOurs);
    assert.deepEqual([idle.busy, idle.categories, idle.top], [0, [], []]);
  });
});
