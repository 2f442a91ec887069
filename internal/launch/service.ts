/**
 * Used by the end-to-end tests and the benchmark: starts `cmd/app/main.ts` as a real process with the exact flags of `deno task run`, on ports
 * the process picks itself, and reads the chosen ports from its startup log.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** The flags of `deno task run` (from deno.json), so tests run the command users run. */
export async function runFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const words = (config.tasks.run as string).split(/\s+/);
  return words.filter((w) => w.startsWith("--") && w !== "--env-file");
}

/** A running service process. */
export interface ServiceProcess {
  /** `http://127.0.0.1:<api port>`. */
  api: string;
  /** `http://127.0.0.1:<debug port>`. */
  debug: string;
  /** Every stdout line so far. */
  lines: string[];
  /** Sends a signal; a no-op once the process has exited. */
  kill(signal: Deno.Signal): void;
  /** Resolves with the exit status; stdout and stderr fully read. */
  status: Promise<{ code: number; stderr: string }>;
}

/** Runs main.ts to completion (for processes expected to exit by themselves). */
export async function runToExit(
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await runFlags()), "cmd/app/main.ts"],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Starts the service; resolves once both servers listen. */
export async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await runFlags()), "cmd/app/main.ts"],
    cwd: ROOT,
    env: { API_PORT: "0", DEBUG_PORT: "0", WORKERS: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let apiPort: number | undefined;
  let debugPort: number | undefined;
  let onPorts: () => void = () => {};
  const ports = new Promise<void>((resolve) => (onPorts = resolve));
  const stdout = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        const entry = JSON.parse(line);
        const port = Number(String(entry.address ?? "").split(":").at(-1));
        if (entry.msg === "debug server listening") debugPort = port;
        if (entry.msg === "api server listening") apiPort = port;
        if (apiPort !== undefined && debugPort !== undefined) onPorts();
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const status = Promise.all([child.status, stdout, stderr]).then(([s, , err]) => ({
    code: s.code,
    stderr: err,
  }));
  const exited = status.then((s) => {
    throw new Error(`service exited with ${s.code} before listening: ${s.stderr}`);
  });
  await Promise.race([ports, exited]);
  exited.catch(() => {});
  return {
    api: `http://127.0.0.1:${apiPort}`,
    debug: `http://127.0.0.1:${debugPort}`,
    lines,
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
