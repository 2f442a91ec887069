/**
 * `deno task bench`: the service (durable store, same worker count) against a bare `Deno.serve`
 * baseline, measured alternately in one run with `wrk`, reported as ratios. Not a test: the
 * machine is shared and noisy, so only side-by-side ratios from one run mean anything.
 *
 * Flags: `--seconds N` (per round, default 5), `--rounds N` (default 3), `--workers N`
 * (default: CPUs), `--connections N` (default 64), `--out FILE` (default docs/benchmarks.md).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type ServiceProcess, startService } from "../app/service_process.ts";

const ROOT = new URL("../../", import.meta.url);

/** One wrk measurement. */
export interface Measurement {
  /** Requests per second. */
  rps: number;
  /** Latency percentiles in microseconds. */
  p50: number;
  p99: number;
  p999: number;
  /** Socket errors plus non-2xx answers. */
  errors: number;
}

const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`;

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
      .output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: output.code, out: decode(output.stdout) + decode(output.stderr) };
  } catch {
    return { code: 127, out: "" };
  }
}

async function has(cmd: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${cmd}`])).code === 0;
}

/** Finds wrk, installing Debian's package when missing and running as root. */
async function ensureWrk(): Promise<void> {
  if (await has("wrk")) return;
  console.error("bench: wrk not found; installing Debian's wrk package");
  await run("apt-get", ["update", "-qq"]);
  const install = await run("apt-get", ["install", "-y", "-qq", "wrk"]);
  if (install.code !== 0 || !(await has("wrk"))) {
    throw new Error(`wrk is required: install it with "apt-get install wrk"\n${install.out}`);
  }
}

async function wrk(
  url: string,
  seconds: number,
  connections: number,
  script: string,
): Promise<Measurement> {
  const result = await run("wrk", [
    "-t1",
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "5s",
    "-s",
    script,
    url,
  ]);
  const line = result.out.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`wrk printed no result for ${url}:\n${result.out}`);
  const [requests, durationUs, errors, p50, p99, p999] = line.split(" ").slice(1).map(Number);
  return { rps: requests / (durationUs / 1e6), p50, p99, p999, errors };
}

async function startBaseline(workers: number): Promise<{ url: string; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-net", "--allow-net", "--allow-env", "--allow-read", "internal/bench/baseline.ts"],
    cwd: ROOT,
    env: { WORKERS: String(workers), PORT: "0" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("baseline exited before listening");
    text += value;
  }
  const port = JSON.parse(text.split("\n")[0]).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const ms = (us: number) => (us / 1000).toFixed(2);
const k = (n: number) => Math.round(n).toLocaleString("en-US");

async function stopService(service: ServiceProcess): Promise<void> {
  service.kill("SIGTERM");
  await service.status;
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
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const workers = Number(values.workers);
  const connections = Number(values.connections);
  await ensureWrk();
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, WRK_SCRIPT);
  const dataDir = await Deno.makeTempDir({ prefix: "sequencer-bench-" });

  const ours = await startService({ DATA_DIR: dataDir, WORKERS: String(workers) });
  const baseline = await startBaseline(workers);
  const rows: { round: number; ours: Measurement; base: Measurement }[] = [];
  const batches: Measurement[] = [];
  let profiled: { without: Measurement; during: Measurement; status: number } | undefined;
  try {
    // Warm both up (JIT, first blocks) before measuring.
    await wrk(`${ours.api}/v1/sequence`, 2, connections, script);
    await wrk(`${baseline.url}/`, 2, connections, script);
    for (let round = 1; round <= rounds; round++) {
      // Alternate which goes first, so drift in the machine's load does not favour one side.
      const first = round % 2 === 1;
      const a = first ? await wrk(`${ours.api}/v1/sequence`, seconds, connections, script) : undefined;
      const base = await wrk(`${baseline.url}/`, seconds, connections, script);
      const o = a ?? await wrk(`${ours.api}/v1/sequence`, seconds, connections, script);
      rows.push({ round, ours: o, base });
      console.error(
        `round ${round}: ours ${k(o.rps)} req/s, baseline ${k(base.rps)} req/s, ratio ${(o.rps / base.rps).toFixed(3)}`,
      );
    }
    for (let round = 1; round <= Math.max(2, rounds - 1); round++) {
      batches.push(await wrk(`${ours.api}/v1/sequence?count=10000`, seconds, connections, script));
    }
    // Throughput while a 10-second CPU profile runs, against the same without one.
    const without = await wrk(`${ours.api}/v1/sequence`, 10, connections, script);
    const profile = fetch(`${ours.debug}/debug/pprof/profile?seconds=10`).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });
    const during = await wrk(`${ours.api}/v1/sequence`, 10, connections, script);
    profiled = { without, during, status: await profile };
  } finally {
    await baseline.stop();
    await stopService(ours);
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(script);
  }

  const ratio = median(rows.map((r) => r.ours.rps / r.base.rps));
  const oursP99 = median(rows.map((r) => r.ours.p99));
  const batchRate = median(batches.map((b) => b.rps * 10_000));
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .split("\n").find((l) => l.startsWith("model name"))?.split(":")[1]?.trim() ?? "unknown";
  const wrkVersion = (await run("wrk", ["-v"])).out.split("\n")[0].trim();
  const yes = (ok: boolean) => (ok ? "**met**" : "**not met**");
  const md = `# Benchmarks

Written by \`deno task bench\` on ${new Date().toISOString().slice(0, 10)}. The machine is shared
and noisy, so every figure that matters is a **ratio measured side by side in one run**; bare
req/s are shown for context only and are not comparable across runs.

## Machine and versions

- CPU: ${cpu}, ${navigator.hardwareConcurrency} cores (wrk, the service and the baseline share them)
- Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${wrkVersion}
- Service: \`WORKERS=${workers}\`, embedded SQLite store (WAL, synchronous=FULL) in a temp dir
- Baseline: bare \`Deno.serve\` (\`internal/bench/baseline.ts\`), ${workers} listener(s) with
  \`reusePort\`, answering the seed's JSON from an in-memory \`Atomics\` counter

## Commands

\`\`\`sh
deno task bench            # ${rounds} rounds x ${seconds} s each, alternating
wrk -t1 -c${connections} -d${seconds}s -s <latency script> http://127.0.0.1:PORT/v1/sequence
wrk -t1 -c${connections} -d${seconds}s -s <latency script> http://127.0.0.1:PORT/v1/sequence?count=10000
\`\`\`

## Single numbers: \`GET /v1/sequence\`, ${connections} connections

| round | ours req/s | baseline req/s | ratio ours/baseline | ours p50 / p99 / p99.9 (ms) | baseline p50 / p99 / p99.9 (ms) |
| ----- | ---------- | -------------- | ------------------- | --------------------------- | ------------------------------- |
${
    rows.map((r) =>
      `| ${r.round} | ${k(r.ours.rps)} | ${k(r.base.rps)} | ${(r.ours.rps / r.base.rps).toFixed(3)} | ${
        ms(r.ours.p50)
      } / ${ms(r.ours.p99)} / ${ms(r.ours.p999)} | ${ms(r.base.p50)} / ${ms(r.base.p99)} / ${
        ms(r.base.p999)
      } |`
    ).join("\n")
  }

**Median ratio: ${ratio.toFixed(3)}.** Errors (socket or non-2xx): ours ${
    rows.reduce((s, r) => s + r.ours.errors, 0)
  }, baseline ${rows.reduce((s, r) => s + r.base.errors, 0)}.

## Batches: \`GET /v1/sequence?count=10000\`

| round | req/s | numbers/s | p99 (ms) |
| ----- | ----- | --------- | -------- |
${batches.map((b, i) => `| ${i + 1} | ${k(b.rps)} | ${k(b.rps * 10_000)} | ${ms(b.p99)} |`).join("\n")}

**Median: ${k(batchRate)} numbers/s.**

## While a 10-second CPU profile runs

| | req/s | p99 (ms) |
| - | ----- | -------- |
| without profile | ${k(profiled.without.rps)} | ${ms(profiled.without.p99)} |
| during \`/debug/pprof/profile?seconds=10\` (HTTP ${profiled.status}) | ${k(profiled.during.rps)} | ${ms(profiled.during.p99)} |

**Ratio during/without: ${(profiled.during.rps / profiled.without.rps).toFixed(3)}.**

## Targets

| target | result | |
| ------ | ------ | - |
| single numbers >= 0.95 x bare baseline | ${ratio.toFixed(3)} | ${yes(ratio >= 0.95)} |
| p99 at ${connections} connections <= 2 ms | ${ms(oursP99)} ms | ${yes(oursP99 <= 2000)} |
| batches >= 50 million numbers/s | ${k(batchRate)} | ${yes(batchRate >= 50e6)} |
`;
  await Deno.writeTextFile(new URL(values.out!, ROOT), md);
  console.log(md);
}

if (import.meta.main) await main();
