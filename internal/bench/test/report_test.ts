import assert from "node:assert/strict";
import type { CpuMeasurement } from "../cpu.ts";
import {
  CPU_TARGET,
  figures,
  KEPT_END,
  KEPT_START,
  keptSection,
  renderReport,
  summaryText,
} from "../report.ts";
import type { BenchResult } from "../result.ts";
import { servicePid } from "../run_bench.ts";
import { median } from "../stats.ts";

const run = (cpuUs: number, rps: number): CpuMeasurement => ({
  requests: rps * 5,
  rps,
  p50: 500,
  p99: 2500,
  p999: 4000,
  errors: 0,
  cpuTicks: Math.round((cpuUs * rps * 5) / 10_000),
  cpuUs,
});

/** Three rounds: ours/same-headers CPU ratios 1.2, 1.1 and 1.5 (median 1.2). */
function result(): BenchResult {
  const measured = { requests: 1, rps: 60_000, p50: 500, p99: 1500, p999: 3000, errors: 0 };
  return {
    options: { seconds: 5, rounds: 3, workers: 2, connections: 64 },
    date: "2026-11-27",
    machine: { cpu: "Test CPU", cores: 2, deno: "2.9.6", v8: "15", wrk: "wrk 4.1.0", hz: 100 },
    rounds: [
      { round: 1, ours: run(12, 60_000), same: run(10, 70_000), base: run(9, 80_000) },
      { round: 2, ours: run(11, 62_000), same: run(10, 68_000), base: run(10, 79_000) },
      { round: 3, ours: run(15, 50_000), same: run(10, 71_000), base: run(8, 82_000) },
    ],
    batches: [measured, { ...measured, rps: 50_000 }],
    profiled: { without: measured, during: measured, status: 503 },
    references: [{
      name: "nginx",
      command: "",
      rps: 0,
      skipped: "nginx is not installed",
      baseline: undefined,
    }],
    replicas: { skipped: "PostgreSQL is not installed" },
    keyed: [
      { keyed: run(40, 11_000), unkeyed: run(12, 60_000) },
      { keyed: run(42, 9_000), unkeyed: run(12, 61_000) },
      { keyed: run(41, 12_000), unkeyed: run(12, 59_000) },
    ],
    accessLog: [{ on: run(16, 50_000), off: run(12, 60_000) }],
    prefetch: {
      lines: [
        "prefetch, a loop that never yields: 38,254,143 numbers/s delivered by take() over 5.00 s",
        "  server requests: 1,913 (383/s), 99,991 numbers per request",
      ],
    },
  };
}

Deno.test("benchmark report", async (t) => {
  await t.step("medians: the CPU ratio is the median of each round's side-by-side ratio", () => {
    const f = figures(result());
    assert.equal(f.cpuOurs, 12);
    assert.equal(f.cpuSame, 10);
    assert.equal(f.cpuBase, 9);
    assert.equal(f.cpuRatio, 1.2);
    assert.equal(f.cpuRatioBase, 12 / 9);
    assert.equal(f.rpsOurs, 60_000);
    assert.equal(f.batchRate, 55_000 * 10_000);
  });

  await t.step("the printed summary leads with CPU per request and the target", () => {
    const text = summaryText(result());
    const lines = text.split("\n");
    assert.match(lines[0], /^CPU per request/);
    assert.match(text, /ours +12\.0 µs/);
    assert.match(text, /same-headers base +10\.0 µs/);
    assert.match(
      text,
      new RegExp(`ratio ours/same-headers 1\\.200 \\(target <= ${CPU_TARGET}: NOT met\\)`),
    );
    assert.match(text, /req\/s \(medians\): ours 60,000, same-headers 70,000, bare 80,000/);
  });

  await t.step("a run within the target says so", () => {
    const within = result();
    within.rounds = within.rounds.map((r) => ({ ...r, ours: run(10.5, 65_000) }));
    assert.match(summaryText(within), /ratio ours\/same-headers 1\.050 \(target <= 1\.15: met\)/);
    assert.match(renderReport(within), /\| CPU per request <= 1\.15 x .* \| \*\*met\*\* \|/);
  });

  await t.step("the document starts with CPU per request, per round and as medians", () => {
    const md = renderReport(result());
    assert.match(md, /shared 2-core\s+box/);
    const cpu = md.indexOf("## CPU per request");
    assert.ok(cpu > 0 && cpu < md.indexOf("## Single numbers"));
    assert.match(md, /\| 3 \| 15\.0 \| 10\.0 \| 8\.0 \| 1\.500 \| 1\.875 \|/);
    assert.match(
      md,
      /\*\*Ours: 12\.0 µs of CPU per request; the bare runtime sending the same headers:\s+10\.0 µs\. Ratio 1\.200\*\*/,
    );
    assert.match(md, /not measured: nginx is not installed/);
    assert.match(
      md,
      /Skipped in this run: no private PostgreSQL could run here \(PostgreSQL is not installed\)/,
    );
    assert.match(md, /The profile was not available \(HTTP 503\)/);
  });

  await t.step(
    "keyed requests, the access log and the prefetch rate are reported against their targets",
    () => {
      const md = renderReport(result());
      assert.match(md, /\*\*Median: 11,000 keyed requests\/s\.\*\*/);
      assert.match(
        md,
        /\| keyed requests >= 10,000\/s at 64 connections \(embedded store\) \| 11,000 \| \*\*met\*\* \|/,
      );
      assert.match(md, /\| 1 \| 16\.0 \| 12\.0 \| 50,000 \| 60,000 \|/);
      assert.match(
        md,
        /\| prefetch >= 10,000,000 numbers\/s delivered \| 38,254,143 \| \*\*met\*\* \|/,
      );
      const none = { ...result(), prefetch: { skipped: "the prefetch benchmark failed: x" } };
      assert.match(renderReport(none), /Not measured: the prefetch benchmark failed: x\./);
      assert.match(renderReport(none), /\| prefetch >= .* \| 0 \| \*\*NOT met\*\* \|/);
    },
  );

  await t.step("the hand-written section of the last report is kept, once", () => {
    const kept = `${KEPT_START}\n## Where our extra CPU goes\n\nMeasured by hand.\n${KEPT_END}`;
    const previous = renderReport(result(), kept);
    assert.equal(keptSection(previous), kept);
    const next = renderReport(result(), keptSection(previous));
    assert.equal(next.split(KEPT_START).length, 2);
    assert.ok(next.indexOf(kept) > next.indexOf("## What the profile shows"));
    assert.equal(keptSection("# Benchmarks\n"), "");
    assert.equal(keptSection(`${KEPT_START} but no end`), "");
  });
});

Deno.test("small helpers", async (t) => {
  await t.step("the service's pid comes from its starting log line", () => {
    const lines = [
      "not json",
      '{"level":"info","msg":"debug server listening","address":"0.0.0.0:1"}',
      '{"level":"info","msg":"starting","config":{},"pid":4242}',
    ];
    assert.equal(servicePid(lines), 4242);
    assert.throws(() => servicePid(lines.slice(0, 2)), /no starting line/);
  });

  await t.step("medians of odd and even counts", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});
