/**
 * CPU time of a process (every thread) from `/proc/<pid>/stat`, and what a load run cost in CPU
 * microseconds per request: the figure the project tracks, since on a shared machine req/s follow
 * the neighbours' load while CPU per request mostly does not.
 *
 * @module
 */
import { run } from "./commands.ts";
import type { Measurement } from "./wrk.ts";

/** The CPU time fields of `/proc/<pid>/stat`, in clock ticks. */
export interface ProcCpu {
  /** User time of every thread of the process. */
  utime: number;
  /** System (kernel) time of every thread of the process. */
  stime: number;
}

/** A load run with what it cost the server in CPU. */
export interface CpuMeasurement extends Measurement {
  /** Clock ticks (user + system) the server used during the run. */
  cpuTicks: number;
  /** Server CPU microseconds per request served. */
  cpuUs: number;
}

/**
 * Reads `utime` and `stime` (fields 14 and 15) from the text of `/proc/<pid>/stat`. The command
 * name (field 2) is in parentheses and may hold spaces and parentheses, so fields are counted
 * from the last `)`.
 * @throws when the text is not a stat line.
 */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(")");
  const fields = close < 0 ? [] : text.slice(close + 1).trim().split(/\s+/);
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { utime, stime };
}

/**
 * User plus system clock ticks process `pid` has used so far, all threads together. Read with
 * `cat`: Deno lets a script read `/proc` only with `--allow-all`, and the bench already runs
 * programs.
 */
export async function processCpuTicks(pid: number): Promise<number> {
  const stat = await run("cat", [`/proc/${pid}/stat`]);
  if (stat.code !== 0) throw new Error(`cannot read /proc/${pid}/stat: ${stat.out.trim()}`);
  const { utime, stime } = parseProcStat(stat.out);
  return utime + stime;
}

/** Clock ticks per second (`getconf CLK_TCK`; 100 when getconf cannot tell). */
export async function clockTicksPerSecond(): Promise<number> {
  const hz = Number((await run("getconf", ["CLK_TCK"])).out.trim());
  return Number.isInteger(hz) && hz > 0 ? hz : 100;
}

/** Microseconds of CPU per request: `ticks` at `hz` ticks a second over `requests`. */
export function cpuMicrosPerRequest(ticks: number, requests: number, hz: number): number {
  return requests > 0 ? (ticks / hz) * 1e6 / requests : NaN;
}

/**
 * Runs `load` and reads the CPU time process `pid` used meanwhile.
 * @param hz clock ticks per second ({@link clockTicksPerSecond}).
 */
export async function measureCpu(
  pid: number,
  load: () => Promise<Measurement>,
  options: { hz: number },
): Promise<CpuMeasurement> {
  const before = await processCpuTicks(pid);
  const measured = await load();
  const cpuTicks = (await processCpuTicks(pid)) - before;
  return {
    ...measured,
    cpuTicks,
    cpuUs: cpuMicrosPerRequest(cpuTicks, measured.requests, options.hz),
  };
}
