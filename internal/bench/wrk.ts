/**
 * The benchmark's load generator: `wrk` with a Lua `done` hook that prints one machine-readable
 * line, and the parser of that line.
 *
 * @module
 */
import { installed, run } from "./commands.ts";

/** One wrk run. */
export interface Measurement {
  /** Requests completed. */
  requests: number;
  /** Requests per second. */
  rps: number;
  /** Latency percentiles in microseconds. */
  p50: number;
  p99: number;
  p999: number;
  /** Socket errors plus non-2xx answers. */
  errors: number;
}

/** How wrk loads a server. */
export interface WrkOptions {
  /** Duration of the run. */
  seconds: number;
  /** Open connections (one wrk thread drives them all). */
  connections: number;
  /** The Lua script holding {@link WRK_SCRIPT}. */
  script: string;
}

/** wrk's Lua hook: one `RESULT requests durationUs errors p50 p99 p99.9` line at the end. */
export const WRK_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`;

/** Reads the `RESULT` line of {@link WRK_SCRIPT} from wrk's output; `undefined` without one. */
export function parseWrkResult(out: string): Measurement | undefined {
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (line === undefined) return undefined;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length !== 6 || fields.some((n) => !Number.isFinite(n)) || fields[1] <= 0) {
    return undefined;
  }
  const [requests, durationUs, errors, p50, p99, p999] = fields;
  return { requests, rps: requests / (durationUs / 1e6), p50, p99, p999, errors };
}

/** The command line of one run, for the report (`-s` script left out). */
export function wrkCommand(options: Pick<WrkOptions, "seconds" | "connections">): string {
  return `wrk -t1 -c${options.connections} -d${options.seconds}s`;
}

/**
 * Loads `url` with one wrk thread (the machine's cores are shared with the servers, so a second
 * wrk thread would only take CPU from them).
 */
export async function wrk(url: string, options: WrkOptions): Promise<Measurement> {
  const args = [
    "-t1",
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    "--timeout",
    "5s",
    "-s",
    options.script,
    url,
  ];
  const result = await run("wrk", args);
  const measured = parseWrkResult(result.out);
  if (measured === undefined) throw new Error(`wrk printed no result for ${url}:\n${result.out}`);
  return measured;
}

/** Finds wrk, installing Debian's package when missing (as root). */
export async function ensureWrk(): Promise<void> {
  if (await installed("wrk")) return;
  console.error("bench: wrk not found; installing Debian's wrk package");
  await run("apt-get", ["update", "-qq"]);
  const install = await run("apt-get", ["install", "-y", "-qq", "wrk"]);
  if (install.code !== 0 || !(await installed("wrk"))) {
    throw new Error(`wrk is required: install it with "apt-get install wrk"\n${install.out}`);
  }
}

/** wrk's version line, for the report. */
export async function wrkVersion(): Promise<string> {
  return (await run("wrk", ["-v"])).out.split("\n")[0].trim();
}

/** Writes {@link WRK_SCRIPT} to a temporary file; remove it when done. */
export async function writeWrkScript(options: { keyed?: boolean } = {}): Promise<string> {
  const script = await Deno.makeTempFile({ prefix: "sequencer-bench-", suffix: ".lua" });
  await Deno.writeTextFile(script, options.keyed ? WRK_SCRIPT + KEYED_REQUESTS : WRK_SCRIPT);
  return script;
}

/** wrk's Lua `request` hook for keyed requests: a new `Idempotency-Key` on every request. */
export const KEYED_REQUESTS = `
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", nil, { ["Idempotency-Key"] = '"' .. run .. "-" .. n .. '"' })
end
`;
