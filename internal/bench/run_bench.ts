/**
 * The benchmark's measurements: the service (durable store, same worker count) against a bare
 * `Deno.serve` baseline and the same baseline sending the service's headers, alternating in one
 * run with `wrk`; for each run the server's CPU microseconds per request (from `/proc`) and its
 * req/s. Then batches, a CPU profile under load, nginx and Redis reference rows when installed,
 * and three replicas on a private PostgreSQL when one can run here. Not a test: the machine is
 * shared and noisy, so only side-by-side figures from one run mean anything.
 *
 * @module
 */
import { cpus } from "node:os";
import { startService } from "../launch/service.ts";
import { startBaseline } from "./baseline_process.ts";
import { clockTicksPerSecond, type CpuMeasurement, measureCpu } from "./cpu.ts";
import { type CpuProfile, summarizeProfile } from "./profile_summary.ts";
import { measureNginx, measureRedis } from "./references.ts";
import { measureReplicas, startBenchPostgres } from "./replicas.ts";
import {
  type AccessLogRound,
  BATCH,
  type BenchOptions,
  type BenchResult,
  type KeyedRound,
  type PrefetchResult,
  type Profiled,
  type ReferenceRow,
  type ReplicaResult,
  type SingleRound,
} from "./result.ts";
import { k, ratio, us } from "./stats.ts";
import {
  ensureWrk,
  type Measurement,
  writeWrkScript,
  wrk,
  wrkCommand,
  type WrkOptions,
  wrkVersion,
} from "./wrk.ts";

const ROOT = new URL("../../", import.meta.url);

/**
 * The process id in the service's startup log line (`{"msg":"starting",…,"pid":N}`).
 * @throws when no such line was logged.
 */
export function servicePid(lines: readonly string[]): number {
  for (const line of lines) {
    try {
      const entry = JSON.parse(line);
      if (entry?.msg === "starting" && Number.isInteger(entry.pid)) return entry.pid;
    } catch {
      // not a JSON log line
    }
  }
  throw new Error("the service logged no starting line with its pid");
}

/** Runs every measurement; progress goes to stderr. */
export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { rounds, workers, connections } = options;
  await ensureWrk();
  const hz = await clockTicksPerSecond();
  const script = await writeWrkScript();
  const keyedScript = await writeWrkScript({ keyed: true });
  const load: WrkOptions = { seconds: options.seconds, connections, script };
  const dataDir = await Deno.makeTempDir({ prefix: "sequencer-bench-" });
  // Started first, so that a PostgreSQL that is installed but fails stops the run at once; it idles
  // until its own section.
  const postgres = await startBenchPostgres();
  if ("skipped" in postgres) {
    console.error(`bench: skipping three replicas on PostgreSQL: ${postgres.skipped}`);
  }
  const ours = await startService({ DATA_DIR: dataDir, WORKERS: String(workers) });
  const loggedDir = await Deno.makeTempDir({ prefix: "sequencer-bench-log-" });
  const logged = await startService({
    DATA_DIR: loggedDir,
    WORKERS: String(workers),
    LOG_REQUESTS: "true",
  });
  const baseline = await startBaseline({ workers });
  const sameHeaders = await startBaseline({ workers, noStore: true });
  const targets = [
    { url: `${ours.api}/v1/sequence`, pid: servicePid(ours.lines) },
    { url: `${baseline.url}/`, pid: baseline.pid },
    { url: `${sameHeaders.url}/`, pid: sameHeaders.pid },
  ];
  const singles: SingleRound[] = [];
  const batches: Measurement[] = [];
  let profiled: Profiled | undefined;
  const references: ReferenceRow[] = [];
  let replicas: ReplicaResult = "skipped" in postgres ? postgres : { skipped: "not measured" };
  const keyed: KeyedRound[] = [];
  const accessLog: AccessLogRound[] = [];
  let prefetch: PrefetchResult = { skipped: "not measured" };
  try {
    // Warm all up (JIT, first blocks, block sizes grown) before measuring.
    for (const { url } of targets) await wrk(url, { ...load, seconds: 2 });
    for (let round = 1; round <= rounds; round++) {
      // Rotate which goes first, so drift in the machine's load does not favour one side.
      const got: CpuMeasurement[] = [];
      for (let i = 0; i < targets.length; i++) {
        const which = (i + round - 1) % targets.length;
        const { url, pid } = targets[which];
        got[which] = await measureCpu(pid, () => wrk(url, load), { hz });
      }
      const [o, base, same] = got;
      singles.push({ round, ours: o, base, same });
      console.error(
        `round ${round}: CPU/request ours ${us(o.cpuUs)} µs, same headers ${us(same.cpuUs)} µs ` +
          `(ratio ${ratio(o.cpuUs / same.cpuUs)}), baseline ${us(base.cpuUs)} µs; ` +
          `req/s ours ${k(o.rps)}, same headers ${k(same.rps)}, baseline ${k(base.rps)}`,
      );
    }
    for (let round = 1; round <= Math.max(2, rounds - 1); round++) {
      batches.push(await wrk(`${ours.api}/v1/sequence?count=${BATCH}`, load));
    }
    profiled = await measureProfiled(ours.api, ours.debug, { ...load, seconds: 10 });
    const oursPid = servicePid(ours.lines);
    const loggedPid = servicePid(logged.lines);
    await wrk(`${logged.api}/v1/sequence`, { ...load, seconds: 2 });
    for (let round = 1; round <= Math.max(2, rounds - 1); round++) {
      const url = `${ours.api}/v1/sequence`;
      const k1 = await measureCpu(oursPid, () => wrk(url, { ...load, script: keyedScript }), {
        hz,
      });
      const u1 = await measureCpu(oursPid, () => wrk(url, load), { hz });
      keyed.push({ keyed: k1, unkeyed: u1 });
      const on = await measureCpu(loggedPid, () => wrk(`${logged.api}/v1/sequence`, load), {
        hz,
      });
      const off = await measureCpu(oursPid, () => wrk(url, load), { hz });
      accessLog.push({ on, off });
      console.error(
        `round ${round}: keyed ${k(k1.rps)} req/s (${us(k1.cpuUs)} µs/req), unkeyed ${
          k(u1.rps)
        } req/s; LOG_REQUESTS ${us(on.cpuUs)} µs/req against ${us(off.cpuUs)} µs/req`,
      );
    }
    prefetch = await measurePrefetch(ours.api, options.seconds);
    // Reference rows, when the programs are installed; each next to a fresh baseline run.
    const measures = [
      () => measureNginx(workers, async (url) => (await wrk(url, load)).rps, wrkCommand(load)),
      () => measureRedis(connections, options.seconds),
    ];
    for (const measure of measures) {
      const reference = await measure();
      const base = reference.skipped ? undefined : (await wrk(`${baseline.url}/`, load)).rps;
      references.push({ ...reference, baseline: base });
      console.error(
        reference.skipped
          ? `reference skipped: ${reference.name}: ${reference.skipped}`
          : `reference ${reference.name}: ${k(reference.rps)} req/s, baseline ${k(base!)} req/s`,
      );
    }
    if (!("skipped" in postgres)) {
      replicas = await measureReplicas(postgres, ours.api, { ...load, rounds });
    }
  } finally {
    logged.kill("SIGTERM");
    await logged.status;
    await Deno.remove(loggedDir, { recursive: true });
    await Deno.remove(keyedScript);
    await baseline.stop();
    await sameHeaders.stop();
    ours.kill("SIGTERM");
    await ours.status;
    if (!("skipped" in postgres)) await postgres.pg.destroy();
    await Deno.remove(dataDir, { recursive: true });
    await Deno.remove(script);
  }
  return {
    options,
    date: new Date().toISOString().slice(0, 10),
    machine: {
      cpu: cpus()[0]?.model?.trim() || "unknown model",
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      wrk: await wrkVersion(),
      hz,
    },
    rounds: singles,
    batches,
    profiled,
    references,
    replicas,
    keyed,
    accessLog,
    prefetch,
  };
}

/** Runs the client's prefetch benchmark (`pkg/client/bench`) against `api`; what it printed. */
async function measurePrefetch(api: string, seconds: number): Promise<PrefetchResult> {
  const bench = new URL("../../pkg/client/bench/prefetch_bench.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      bench.pathname,
      `--api=${api}`,
      `--seconds=${seconds}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    return {
      skipped: `the prefetch benchmark failed: ${
        new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)
      }`,
    };
  }
  console.error(text);
  return { lines: text.split("\n") };
}

/** Throughput while a CPU profile of `seconds` runs, against the same without one. */
async function measureProfiled(api: string, debug: string, load: WrkOptions): Promise<Profiled> {
  const url = `${api}/v1/sequence`;
  const without = await wrk(url, load);
  const profile = fetch(
    `${debug}/debug/pprof/profile?seconds=${load.seconds}&format=cpuprofile`,
  ).then(async (r) => ({ status: r.status, text: await r.text() }));
  const during = await wrk(url, load);
  const { status, text } = await profile;
  const summary = status === 200
    ? summarizeProfile(JSON.parse(text) as CpuProfile, (url) => url.startsWith(ROOT.href))
    : undefined;
  return { without, during, status, summary };
}
