import assert from "node:assert/strict";
import { parseWrkResult, WRK_SCRIPT, wrkCommand } from "../wrk.ts";

Deno.test("wrk output", async (t) => {
  await t.step("the RESULT line gives requests, req/s, errors and latency percentiles", () => {
    const out = [
      "Running 5s test @ http://127.0.0.1:4000/v1/sequence",
      "  1 threads and 64 connections",
      "RESULT 400000 5000000 3 480 4230 7000",
      "",
    ].join("\n");
    assert.deepEqual(parseWrkResult(out), {
      requests: 400_000,
      rps: 80_000,
      errors: 3,
      p50: 480,
      p99: 4230,
      p999: 7000,
    });
  });

  await t.step("output without a complete RESULT line gives nothing", () => {
    assert.equal(
      parseWrkResult("unable to connect to 127.0.0.1:1 Connection refused\n"),
      undefined,
    );
    assert.equal(parseWrkResult("RESULT 1 2 3\n"), undefined);
    assert.equal(parseWrkResult("RESULT 10 0 0 1 2 3\n"), undefined, "a zero duration");
    assert.equal(parseWrkResult("RESULT 10 x 0 1 2 3\n"), undefined);
  });

  await t.step("the Lua hook prints the six fields the parser reads", () => {
    assert.match(WRK_SCRIPT, /RESULT %d %d %d %d %d %d/);
    assert.equal(wrkCommand({ seconds: 5, connections: 64 }), "wrk -t1 -c64 -d5s");
  });
});
