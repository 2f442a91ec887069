/**
 * The benchmark's report: the figures of one run ({@link figures}), the summary printed at the
 * end ({@link summaryText}) and `docs/benchmarks.md` ({@link renderReport}). Pure.
 *
 * @module
 */
import type { ProfileSummary } from "./profile_summary.ts";
import {
  BATCH,
  type BenchResult,
  type ReplicaResult,
  type ReplicaRound,
  REPLICAS,
} from "./result.ts";
import { k, median, ms, ratio, totalRps, us } from "./stats.ts";
import type { Measurement } from "./wrk.ts";

/** The tracked target: our CPU per request at most this many times the same-headers baseline's. */
export const CPU_TARGET = 1.15;

/** Marks the hand-written part of `docs/benchmarks.md` that a new run keeps. */
export const KEPT_START = "<!-- kept by deno task bench: start -->";
/** The end of the kept part. */
export const KEPT_END = "<!-- kept by deno task bench: end -->";

/** The medians of one run. */
export interface Figures {
  /** CPU µs per request: ours, the same-headers baseline, the bare baseline (medians). */
  cpuOurs: number;
  cpuSame: number;
  cpuBase: number;
  /** Median over rounds of ours/same-headers CPU per request: the tracked figure. */
  cpuRatio: number;
  /** Median over rounds of ours/bare baseline CPU per request. */
  cpuRatioBase: number;
  /** Median over rounds of req/s ratios. */
  rpsRatio: number;
  rpsSameRatio: number;
  /** Same-headers baseline req/s over the bare baseline's. */
  headerRatio: number;
  /** Median req/s. */
  rpsOurs: number;
  rpsSame: number;
  rpsBase: number;
  /** Median p99, µs. */
  p99Ours: number;
  p99Base: number;
  /** Median numbers/s of the batch runs. */
  batchRate: number;
}

/** Computes the medians of `result`. */
export function figures(result: BenchResult): Figures {
  const rows = result.rounds;
  const med = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
  return {
    cpuOurs: med((r) => r.ours.cpuUs),
    cpuSame: med((r) => r.same.cpuUs),
    cpuBase: med((r) => r.base.cpuUs),
    cpuRatio: med((r) => r.ours.cpuUs / r.same.cpuUs),
    cpuRatioBase: med((r) => r.ours.cpuUs / r.base.cpuUs),
    rpsRatio: med((r) => r.ours.rps / r.base.rps),
    rpsSameRatio: med((r) => r.ours.rps / r.same.rps),
    headerRatio: med((r) => r.same.rps / r.base.rps),
    rpsOurs: med((r) => r.ours.rps),
    rpsSame: med((r) => r.same.rps),
    rpsBase: med((r) => r.base.rps),
    p99Ours: med((r) => r.ours.p99),
    p99Base: med((r) => r.base.p99),
    batchRate: median(result.batches.map((b) => b.rps * BATCH)),
  };
}

const met = (ok: boolean) => (ok ? "met" : "NOT met");

/** The lines printed at the end of a run: CPU per request first. */
export function summaryText(result: BenchResult): string {
  const f = figures(result);
  const { rounds, seconds, connections } = result.options;
  return [
    `CPU per request (medians of ${rounds} rounds x ${seconds} s, wrk -t1 -c${connections}):`,
    `  ours               ${us(f.cpuOurs)} µs`,
    `  same-headers base  ${us(f.cpuSame)} µs`,
    `  bare baseline      ${us(f.cpuBase)} µs`,
    `  ratio ours/same-headers ${ratio(f.cpuRatio)} (target <= ${CPU_TARGET}: ${
      met(f.cpuRatio <= CPU_TARGET)
    }); ours/bare ${ratio(f.cpuRatioBase)}`,
    `req/s (medians): ours ${k(f.rpsOurs)}, same-headers ${k(f.rpsSame)}, bare ${k(f.rpsBase)}; ` +
    `ratio ours/same-headers ${ratio(f.rpsSameRatio)}, ours/bare ${ratio(f.rpsRatio)}`,
  ].join("\n");
}

/** The hand-written part of an earlier report, markers included; `""` when it has none. */
export function keptSection(previous: string): string {
  const start = previous.indexOf(KEPT_START);
  const end = previous.indexOf(KEPT_END, start);
  if (start < 0 || end < 0) return "";
  return previous.slice(start, end + KEPT_END.length);
}

const sum = (list: Measurement[]) => list.reduce((s, m) => s + m.errors, 0);

/**
 * `docs/benchmarks.md` for `result`; `kept` (from {@link keptSection}) is placed after the
 * profile. Tables are unpadded: run `deno fmt` on the file to align them.
 */
export function renderReport(result: BenchResult, kept = ""): string {
  const { options, machine, rounds: rows, profiled } = result;
  const { seconds, rounds, workers, connections } = options;
  const f = figures(result);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const { summary } = profiled;
  const profileSection = summary === undefined
    ? `The profile was not available (HTTP ${profiled.status}), so the cost is not broken down.\n`
    : `Of ${k(summary.total)} samples (every thread, 10 s under load), ${
      k(summary.busy)
    } were busy in JavaScript; V8 counts time in Deno's Rust HTTP stack (hyper, sockets) as idle,
so these shares describe the JavaScript side of each request.

| busy JavaScript time | share |
| -------------------- | ----- |
${summary.categories.map((c) => `| ${c.name} | ${pct(c.share)} |`).join("\n")}

Functions with the most self time:

| function | share |
| -------- | ----- |
${summary.top.map((t) => `| \`${t.name.replaceAll("|", "\\|")}\` | ${pct(t.share)} |`).join("\n")}
`;
  return `# Benchmarks

Written by \`deno task bench\` on ${result.date}. The machine is a **shared ${machine.cores}-core
box**: wrk, the service and the baselines run on the same cores, next to other people's work, so
every figure varies from run to run. What to compare is what is measured **side by side in one
run**: the **CPU microseconds per request** and the **ratios**. Bare req/s are shown for context
only and are not comparable across runs.

## CPU per request (the tracked figure)

For each wrk run the server's CPU time (user + system, every thread, from \`/proc/<pid>/stat\`, in
clock ticks of 1/${machine.hz} s) is read before and after, and divided by the requests served. The
service, the same-headers baseline and the bare baseline are loaded in turn, ${rounds} rounds of ${seconds} s
each (\`${`wrk -t1 -c${connections}`}\`), rotating the order; the figures are medians.

| round | ours µs/req | same-headers µs/req | bare µs/req | ours/same-headers | ours/bare |
| ----- | ----------- | ------------------- | ----------- | ----------------- | --------- |
${
    rows.map((r) =>
      `| ${r.round} | ${us(r.ours.cpuUs)} | ${us(r.same.cpuUs)} | ${us(r.base.cpuUs)} | ${
        ratio(r.ours.cpuUs / r.same.cpuUs)
      } | ${ratio(r.ours.cpuUs / r.base.cpuUs)} |`
    ).join("\n")
  }

**Ours: ${us(f.cpuOurs)} µs of CPU per request; the bare runtime sending the same headers: ${
    us(f.cpuSame)
  } µs. Ratio ${ratio(f.cpuRatio)}** (median of the rounds' ratios; target ≤ ${CPU_TARGET}: **${
    met(f.cpuRatio <= CPU_TARGET)
  }**). Against the bare baseline with \`content-type\` only: ${us(f.cpuBase)} µs, ratio ${
    ratio(f.cpuRatioBase)
  }.

## Machine and versions

- CPU: ${machine.cpu}, ${machine.cores} cores (wrk, the service and the baselines share them)
- Deno ${machine.deno} (V8 ${machine.v8}), ${machine.wrk}
- Service: \`WORKERS=${workers}\`, embedded SQLite store (WAL, synchronous=FULL) in a temp dir
- Baseline: bare \`Deno.serve\` (\`internal/bench/baseline.ts\`), ${workers} listener(s) with
  \`reusePort\`, answering the seed's JSON with \`content-type\` only from an in-memory \`Atomics\`
  counter
- Same-headers baseline: the same program with \`NO_STORE=1\`, which also sends the service's
  \`cache-control: no-store\` (the same \`Headers\` object the service uses)

## Commands

\`\`\`sh
deno task bench --seconds ${seconds} --rounds ${rounds}   # cmd/bench/main.ts
wrk -t1 -c${connections} -d${seconds}s -s <result script> http://127.0.0.1:PORT/v1/sequence
wrk -t1 -c${connections} -d${seconds}s -s <result script> http://127.0.0.1:PORT/v1/sequence?count=${BATCH}
\`\`\`

## Single numbers: \`GET /v1/sequence\`, ${connections} connections

The same wrk runs as above.

| round | ours req/s | baseline req/s | same-headers req/s | ours/baseline | ours/same-headers | ours p50 / p99 / p99.9 (ms) | baseline p50 / p99 / p99.9 (ms) |
| ----- | ---------- | -------------- | ------------------ | ------------- | ----------------- | --------------------------- | ------------------------------- |
${
    rows.map((r) =>
      `| ${r.round} | ${k(r.ours.rps)} | ${k(r.base.rps)} | ${k(r.same.rps)} | ${
        ratio(r.ours.rps / r.base.rps)
      } | ${ratio(r.ours.rps / r.same.rps)} | ${ms(r.ours.p50)} / ${ms(r.ours.p99)} / ${
        ms(r.ours.p999)
      } | ${ms(r.base.p50)} / ${ms(r.base.p99)} / ${ms(r.base.p999)} |`
    ).join("\n")
  }

**Median ratio ours/baseline: ${ratio(f.rpsRatio)}.** Against the bare runtime sending the same two
headers: **${ratio(f.rpsSameRatio)}**. The second header alone takes the bare runtime to ${
    ratio(f.headerRatio)
  } of itself. Errors (socket or non-2xx): ours ${sum(rows.map((r) => r.ours))}, baseline ${
    sum(rows.map((r) => r.base))
  }, same-headers ${sum(rows.map((r) => r.same))}.

## Batches: \`GET /v1/sequence?count=${BATCH}\`

| round | req/s | numbers/s | p99 (ms) |
| ----- | ----- | --------- | -------- |
${
    result.batches.map((b, i) => `| ${i + 1} | ${k(b.rps)} | ${k(b.rps * BATCH)} | ${ms(b.p99)} |`)
      .join("\n")
  }

**Median: ${k(f.batchRate)} numbers/s.**

## While a 10-second CPU profile runs

| | req/s | p99 (ms) |
| - | ----- | -------- |
| without profile | ${k(profiled.without.rps)} | ${ms(profiled.without.p99)} |
| during \`/debug/pprof/profile?seconds=10\` (HTTP ${profiled.status}) | ${
    k(profiled.during.rps)
  } | ${ms(profiled.during.p99)} |

**Ratio during/without: ${ratio(profiled.during.rps / profiled.without.rps)}.**

## What the profile shows

${profileSection}${kept === "" ? "" : `\n${kept}\n`}
## Reference rows

For scale, when installed here (Debian's packages); each is measured right after a fresh run of the
bare baseline, and the ratio is to that run. A reference that is not installed is listed as such.

| reference | req/s | bare baseline req/s | ratio to baseline | command |
| --------- | ----- | ------------------- | ----------------- | ------- |
${
    result.references.map((r) =>
      r.skipped
        ? `| ${r.name} | not measured: ${r.skipped} | | | |`
        : `| ${r.name} | ${k(r.rps)} | ${k(r.baseline!)} | ${ratio(r.rps / r.baseline!)} | \`${
          r.command.replace(/127\.0\.0\.1:\d+/, "127.0.0.1:PORT").replace(/-p \d+/, "-p PORT")
        }\` |`
    ).join("\n")
  }

${replicasSection(result.replicas, { workers, seconds, cores: machine.cores })}
## Keyed requests: \`Idempotency-Key\`, ${connections} connections

Every request carries a new key, so each answer is stored durably (grouped into shared commits)
before it is sent; measured right before an unkeyed run of the same service.

| round | keyed req/s | keyed µs/req | unkeyed req/s | unkeyed µs/req |
| ----- | ----------- | ------------ | ------------- | -------------- |
${
    result.keyed.map((r, i) =>
      `| ${i + 1} | ${k(r.keyed.rps)} | ${us(r.keyed.cpuUs)} | ${k(r.unkeyed.rps)} | ${
        us(r.unkeyed.cpuUs)
      } |`
    ).join("\n")
  }

**Median: ${k(keyedRate(result))} keyed requests/s.**

## Access log: \`LOG_REQUESTS=true\`

The same service started a second time with the access log on, measured in turn with the first.

| round | on µs/req | off µs/req | on req/s | off req/s |
| ----- | --------- | ---------- | -------- | --------- |
${
    result.accessLog.map((r, i) =>
      `| ${i + 1} | ${us(r.on.cpuUs)} | ${us(r.off.cpuUs)} | ${k(r.on.rps)} | ${k(r.off.rps)} |`
    ).join("\n")
  }

## The client's prefetch (\`pkg/client\`)

Numbers per second delivered to the caller by \`take()\` in one process, against this run's
service (\`pkg/client/bench/prefetch_bench.ts\`):

${
    "skipped" in result.prefetch
      ? `Not measured: ${result.prefetch.skipped}.`
      : "\`\`\`text\n" + result.prefetch.lines.join("\n") + "\n\`\`\`"
  }

## Targets

| target | result | |
| ------ | ------ | - |
| CPU per request <= ${CPU_TARGET} x the same-headers baseline | ${ratio(f.cpuRatio)} (${
    us(f.cpuOurs)
  } µs against ${us(f.cpuSame)} µs) | **${met(f.cpuRatio <= CPU_TARGET)}** |
| single numbers >= 0.95 x bare baseline req/s | ${ratio(f.rpsRatio)} (${
    ratio(f.rpsSameRatio)
  } against the same headers) | **${met(f.rpsRatio >= 0.95)}** |
| p99 at ${connections} connections <= 2 ms | ${ms(f.p99Ours)} ms (bare baseline: ${
    ms(f.p99Base)
  } ms) | **${met(f.p99Ours <= 2000)}** |
| batches >= 50 million numbers/s | ${k(f.batchRate)} | **${met(f.batchRate >= 50e6)}** |
| keyed requests >= 10,000/s at ${connections} connections (embedded store) | ${
    k(keyedRate(result))
  } | **${met(keyedRate(result) >= 10_000)}** |
| prefetch >= 10,000,000 numbers/s delivered | ${k(prefetchRate(result))} | **${
    met(prefetchRate(result) >= 10_000_000)
  }** |

${targetNotes(f, { summary, connections, cores: machine.cores })}`;
}

/** The median keyed rate of the run (req/s). */
function keyedRate(result: BenchResult): number {
  return median(result.keyed.map((r) => r.keyed.rps));
}

/** The prefetch rate the client's benchmark printed first (numbers/s), 0 when not measured. */
function prefetchRate(result: BenchResult): number {
  if ("skipped" in result.prefetch) return 0;
  const line = result.prefetch.lines.find((l) => l.includes("numbers/s delivered"));
  const rate = /([\d,]+) numbers\/s delivered/.exec(line ?? "")?.[1];
  return rate === undefined ? 0 : Number(rate.replaceAll(",", ""));
}

function replicasSection(
  result: ReplicaResult,
  context: { workers: number; seconds: number; cores: number },
): string {
  const head = "## Three replicas on PostgreSQL\n\n";
  if ("skipped" in result) {
    return `${head}Skipped in this run: no private PostgreSQL could run here (${result.skipped}).
Install Debian's \`postgresql\` package and run \`deno task bench\` again to fill this section.
`;
  }
  const { workers, seconds, cores } = context;
  const { rounds, perClient, postgres } = result;
  const r3 = (r: ReplicaRound) => totalRps(r.three) / totalRps(r.one);
  const median3 = median(rounds.map(r3));
  const worstP99 = (list: Measurement[]) => Math.max(...list.map((m) => m.p99));
  const percent = Math.round(Math.abs(median3 - 1) * 100);
  const reading = median3 < 0.95
    ? `In this run the ${REPLICAS} replicas answered ${percent}% fewer requests than the one: that ` +
      `is the cost.`
    : median3 <= 1.05
    ? `In this run the difference is within the noise: at this rate coordination costs little.`
    : `In this run the ${REPLICAS} replicas answered ${percent}% more requests than the one. That ` +
      `is not scale-out either: the cores are the same and PostgreSQL is barely touched, so the ` +
      `difference comes from how ${REPLICAS} single-threaded processes and one process with ` +
      `${workers} listener threads use those cores, not from added capacity.`;
  return `${head}${REPLICAS} replica processes (\`WORKERS=1\` each) on one database of a private
${postgres} (a fresh server in a temporary folder, on 127.0.0.1), against the one replica above on
the embedded store (\`WORKERS=${workers}\`), side by side in the same run. Both sides get the same
clients: ${REPLICAS} \`wrk -t1 -c${perClient}\` processes for ${seconds} s at once, one per replica
on the left, all on the single replica on the right; req/s are summed.

On this one ${cores}-core machine the replicas share the cores with PostgreSQL and with wrk, so
**this row shows the cost of coordination, not scale-out**: the same cores run ${REPLICAS} HTTP
servers instead of one, and each replica claims its blocks from PostgreSQL (rarely at this rate,
since a block grows until it lasts about a second). Replicas add throughput only on machines of
their own; here they show what sharing the numbers safely costs. ${reading}

| round | ${REPLICAS} replicas on PostgreSQL, req/s | per replica | 1 replica, embedded, req/s | ratio ${REPLICAS}/1 | worst p99 ${REPLICAS} / 1 (ms) |
| ----- | ----------------------------- | ----------- | -------------------------- | --------- | ------------------------ |
${
    rounds.map((r) =>
      `| ${r.round} | ${k(totalRps(r.three))} | ${r.three.map((m) => k(m.rps)).join(" / ")} | ${
        k(totalRps(r.one))
      } | ${ratio(r3(r))} | ${ms(worstP99(r.three))} / ${ms(worstP99(r.one))} |`
    ).join("\n")
  }

**Median ratio ${REPLICAS} replicas / 1: ${
    ratio(median3)
  }.** Errors (socket or non-2xx): ${REPLICAS}
replicas ${sum(rounds.flatMap((r) => r.three))}, 1 replica ${sum(rounds.flatMap((r) => r.one))}.
`;
}

/** What a target that was missed costs, read from this run's figures. */
function targetNotes(
  f: Figures,
  context: { summary: ProfileSummary | undefined; connections: number; cores: number },
): string {
  const notes: string[] = [];
  if (f.cpuRatio > CPU_TARGET) {
    notes.push(
      `- **CPU per request: ${us(f.cpuOurs - f.cpuSame)} µs more than the bare runtime ` +
        `sending the same headers.** That is the service's own work per request (routing, the ` +
        `locked take from the shared block, the wrappers) plus its other threads (the owner, ` +
        `the store, the debug server). See "Where our extra CPU goes" above for what was measured.`,
    );
  }
  if (f.rpsRatio < 0.95) {
    const { summary } = context;
    const response = summary?.categories.find((c) => c.name.startsWith("building the Response"));
    const ours = summary?.categories.find((c) => c.name.startsWith("this project's code"));
    notes.push(
      `- **Single numbers req/s: where the ${((1 - f.rpsRatio) * 100).toFixed(0)}% goes.** ${
        1 - f.headerRatio >= 1 - f.rpsSameRatio ? "Most of it is" : "Part of it is"
      } the one header the bare baseline does not send. Every number is marked ` +
        `\`cache-control: no-store\` (a cached answer would hand one number to two clients), and ` +
        `Deno builds a response with more than a \`content-type\` header on a slower path: the ` +
        `bare runtime sending the same two headers runs at ${
          ratio(f.headerRatio)
        } of itself, and against it the service runs at ${ratio(f.rpsSameRatio)}. ` +
        (response && ours
          ? `The profile agrees: building the Response takes ${
            (response.share * 100).toFixed(0)
          }% of the busy JavaScript time, this project's own code ${
            (ours.share * 100).toFixed(0)
          }%. `
          : "") +
        `The header stays: it is what makes the answer safe behind any cache.`,
    );
  }
  if (f.p99Ours > 2000) {
    const gap = (f.p99Ours - f.p99Base) / 1000;
    notes.push(
      `- **p99: mostly the machine's.** The bare baseline's p99 in the same run is ${
        ms(f.p99Base)
      } ms, itself ${
        f.p99Base > 2000 ? "over" : "near"
      } the target: on ${context.cores} cores, wrk and the listener threads share the CPUs, and with ${context.connections} ` +
        `connections a request waits for the scheduler. ` +
        (gap > 0.2
          ? `The service's further ${
            gap.toFixed(2)
          } ms is its own: more threads (the owner, the store, the debug server) and more ` +
            `JavaScript per request compete for the same cores. No request awaits the store in ` +
            `steady state: the next block is committed in the background.`
          : `The service adds nothing measurable to it: no request awaits the store in steady ` +
            `state (the next block is committed in the background).`),
    );
  }
  return notes.length === 0 ? "Every target is met.\n" : notes.join("\n") + "\n";
}
