import assert from "node:assert/strict";
import {
  clockTicksPerSecond,
  cpuMicrosPerRequest,
  parseProcStat,
  processCpuTicks,
} from "../cpu.ts";

// A real line of /proc/<pid>/stat (deno, 2 API workers), with utime 1234 and stime 5678.
const STAT = "11405 (deno) S 11390 11390 11390 0 -1 4194560 12345 0 0 0 1234 5678 0 0 20 0 " +
  "9 0 4711 1234567890 23456 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 " +
  "0 0 0 0 0 0 0 0 0 0 0";

Deno.test("CPU time from /proc", async (t) => {
  await t.step("utime and stime are fields 14 and 15", () => {
    assert.deepEqual(parseProcStat(STAT), { utime: 1234, stime: 5678 });
  });

  await t.step("a command name with spaces and parentheses does not shift the fields", () => {
    const odd = STAT.replace("(deno)", "(my (odd) name )");
    assert.deepEqual(parseProcStat(odd), { utime: 1234, stime: 5678 });
  });

  await t.step("text that is not a stat line is refused", () => {
    assert.throws(() => parseProcStat(""), /not a \/proc\/<pid>\/stat line/);
    assert.throws(() => parseProcStat("11405 (deno) S 1 2 3"), /not a \/proc/);
  });

  await t.step("ticks become microseconds per request", () => {
    // 150 ticks of 10 ms = 1.5 s of CPU over 100,000 requests = 15 µs each.
    assert.equal(cpuMicrosPerRequest(150, 100_000, 100), 15);
    assert.ok(Number.isNaN(cpuMicrosPerRequest(150, 0, 100)));
  });

  await t.step("this process's CPU ticks grow while it computes", async () => {
    const hz = await clockTicksPerSecond();
    assert.ok(Number.isInteger(hz) && hz > 0);
    const before = await processCpuTicks(Deno.pid);
    const deadline = performance.now() + 60_000;
    let after = before;
    let sink = 0;
    while (after <= before && performance.now() < deadline) {
      for (let i = 0; i < 5_000_000; i++) sink += Math.sqrt(i);
      after = await processCpuTicks(Deno.pid);
    }
    assert.ok(sink > 0);
    assert.ok(after > before, `CPU ticks stayed at ${before}`);
  });

  await t.step("a process that does not exist is an error", async () => {
    await assert.rejects(processCpuTicks(2 ** 30), /cannot read \/proc\/1073741824\/stat/);
  });
});
