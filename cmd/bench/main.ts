/**
 * `deno task bench`: measures the service against bare `Deno.serve` baselines side by side
 * (CPU microseconds per request and req/s), writes `docs/benchmarks.md` and prints the summary.
 *
 * Flags: `--seconds N` (per wrk run, default 5), `--rounds N` (default 3), `--workers N`
 * (default: CPUs), `--connections N` (default 64), `--out FILE` (default docs/benchmarks.md,
 * relative to the project root).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { run } from "../../internal/bench/commands.ts";
import { keptSection, renderReport, summaryText } from "../../internal/bench/report.ts";
import { runBench } from "../../internal/bench/run_bench.ts";

const ROOT = new URL("../../", import.meta.url);

/** A positive whole number from flag `name`. */
function count(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a whole number of at least 1, got ${JSON.stringify(value)}`);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      rounds: { type: "string", default: "3" },
      workers: { type: "string", default: String(navigator.hardwareConcurrency ?? 1) },
      connections: { type: "string", default: "64" },
      out: { type: "string", default: "docs/benchmarks.md" },
    },
  });
  const result = await runBench({
    seconds: count("seconds", values.seconds),
    rounds: count("rounds", values.rounds),
    workers: count("workers", values.workers),
    connections: count("connections", values.connections),
  });
  const out = new URL(values.out, ROOT);
  const previous = await Deno.readTextFile(out).catch(() => "");
  await Deno.writeTextFile(out, renderReport(result, keptSection(previous)));
  // The tables are written unpadded; the formatter aligns them, so the file passes `deno fmt`.
  await run(Deno.execPath(), ["fmt", "--quiet", out.pathname]);
  console.log(`wrote ${out.pathname}\n\n${summaryText(result)}`);
}

if (import.meta.main) await main();
