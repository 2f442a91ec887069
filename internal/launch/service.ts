/**
 * Starts `cmd/app/main.ts` as a real process with the exact flags of `deno task run`, for the
 * end-to-end tests and the benchmark. {@link startService} waits until both servers listen (ports
 * read from the startup log); {@link spawnService} returns at once, for tests that watch startup.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** How long {@link SpawnedService.waitForLog} waits for its line. */
const LOG_WAIT_MS = 120_000;

/**
 * The flags of `deno task run` (from deno.json) for a service started with `env` (added to this
 * process's environment), so tests run the command users run: the task's own flags, and the
 * permission flags its `$(…)` prints for that environment (`cmd/permissions/main.ts`, run here
 * the same way). `--env-file` is left out of both: tests give every variable themselves.
 */
export async function runFlags(env: Record<string, string> = {}): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const task = config.tasks.run as string;
  const flags = (text: string) =>
    text.split(/\s+/).filter((w) => w.startsWith("--") && w !== "--env-file");
  const substitution = /\$\(([^)]*)\)/.exec(task);
  if (substitution === null) return flags(task);
  const [program, ...args] = substitution[1].trim().split(/\s+/);
  const output = await new Deno.Command(program === "deno" ? Deno.execPath() : program, {
    args: args.filter((arg) => arg !== "--env-file"),
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const printed = new TextDecoder().decode(output.stdout).trim();
  if (!output.success || printed === "") {
    throw new Error(
      `${substitution[1]} failed (${output.code}): ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return [...flags(task.replace(substitution[0], " ")), ...printed.split(/\s+/)];
}

/** A service process as started, before it necessarily listens. */
export interface SpawnedService {
  /** The process id. */
  pid: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first log entry (parsed JSON line) `match` accepts; rejects on exit. */
  waitForLog(match: (entry: LogEntry) => boolean): Promise<LogEntry>;
  /** Sends a signal; a no-op once the process has exited. */
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit status; stdout and stderr fully read. */
  status: Promise<{ code: number; stderr: string }>;
}

/** A running service process. */
export interface ServiceProcess extends SpawnedService {
  /** `http://127.0.0.1:<api port>`. */
  api: string;
  /** `http://127.0.0.1:<debug port>`. */
  debug: string;
}

/** One JSON log line. */
export type LogEntry = Record<string, unknown> & { msg: string };

/** Runs main.ts to completion (for processes expected to exit by themselves). */
export async function runToExit(
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await runFlags(env)), "cmd/app/main.ts"],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Options of {@link spawnService}. */
export interface SpawnOptions {
  /** Replaces the permission flags of `deno task run`. */
  flags?: string[];
  /** A program the service runs under, e.g. `["prlimit", "--nofile=200:200", "--"]`. */
  prefix?: string[];
  /**
   * The whole command instead of `deno run <flags> cmd/app/main.ts`, run in the repository (e.g.
   * `deno task run`, or the image's `CMD` through `sh -c`); `flags` and `prefix` do not apply.
   */
  command?: string[];
}

/** Starts the service with `env` (defaults: ports 0, `WORKERS=1`) and returns at once. */
export async function spawnService(
  env: Record<string, string>,
  options: SpawnOptions = {},
): Promise<SpawnedService> {
  const fullEnv = { API_PORT: "0", DEBUG_PORT: "0", WORKERS: "1", ...env };
  const argv = options.command ?? [
    ...(options.prefix ?? []),
    Deno.execPath(),
    "run",
    ...(options.flags ?? await runFlags(fullEnv)),
    "cmd/app/main.ts",
  ];
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: ROOT,
    env: fullEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const watchers = new Set<{ match: (e: LogEntry) => boolean; resolve: (e: LogEntry) => void }>();
  const stdout = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        let entry: LogEntry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        for (const watcher of watchers) {
          if (watcher.match(entry)) {
            watchers.delete(watcher);
            watcher.resolve(entry);
          }
        }
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const status = Promise.all([child.status, stdout, stderr]).then(([s, , err]) => ({
    code: s.code,
    stderr: err,
  }));
  return {
    pid: child.pid,
    lines,
    waitForLog(match) {
      for (const line of lines) {
        try {
          const entry = JSON.parse(line);
          if (match(entry)) return Promise.resolve(entry);
        } catch { /* not JSON */ }
      }
      return new Promise<LogEntry>((resolve, reject) => {
        // Generous for a loaded machine; a line that never comes fails instead of hanging.
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          reject(
            new Error(`the log line did not come within ${LOG_WAIT_MS} ms:\n${lines.join("\n")}`),
          );
        }, LOG_WAIT_MS);
        const watcher = {
          match,
          resolve(entry: LogEntry) {
            clearTimeout(timer);
            resolve(entry);
          },
        };
        watchers.add(watcher);
        status.then((s) => {
          clearTimeout(timer);
          reject(new Error(`service exited with ${s.code} before the log line: ${s.stderr}`));
        });
      });
    },
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // already exited
      }
    },
    status,
  };
}

/** The port in a `… listening` log entry's `address`. */
function portOf(entry: LogEntry): number {
  return Number(String(entry.address ?? "").split(":").at(-1));
}

/** Starts the service; resolves once both servers listen. */
export async function startService(
  env: Record<string, string>,
  options: SpawnOptions = {},
): Promise<ServiceProcess> {
  const spawned = await spawnService(env, options);
  const [debug, api] = await Promise.all([
    spawned.waitForLog((e) => e.msg === "debug server listening"),
    spawned.waitForLog((e) => e.msg === "api server listening"),
  ]);
  return {
    ...spawned,
    api: `http://127.0.0.1:${portOf(api)}`,
    debug: `http://127.0.0.1:${portOf(debug)}`,
  };
}
