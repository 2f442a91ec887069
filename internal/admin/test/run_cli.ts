/**
 * Runs `cmd/sequences/main.ts` as a process, with the permissions of `deno task sequences`, for
 * the tests of the program.
 *
 * @module
 */

const ROOT = new URL("../../../", import.meta.url);

/** What a run of the program gave. */
export interface CliRun {
  /** Exit code. */
  code: number;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
}

/** The permission flags of the `sequences` task in deno.json (without `--env-file`). */
async function taskFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const words = (config.tasks.sequences as string).split(/\s+/);
  return words.filter((w) => w.startsWith("--") && w !== "--env-file");
}

/**
 * Runs the program with `args` and exactly the environment `env` (plus `PATH` and `HOME`), and
 * `stdin` as its input.
 */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(await taskFlags()), "cmd/sequences/main.ts", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      ...(Deno.env.get("DENO_DIR") === undefined ? {} : { DENO_DIR: Deno.env.get("DENO_DIR")! }),
      ...env,
    },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Runs the program and expects exit 0 and nothing on stderr; returns stdout. */
export async function runOk(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<string> {
  const run = await runCli(args, env, stdin);
  if (run.code !== 0 || run.stderr !== "") {
    throw new Error(
      `sequences ${
        args.join(" ")
      } exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
    );
  }
  return run.stdout;
}

/** Runs the program and expects exit 1 with exactly one line on stderr; returns that line. */
export async function runFails(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<string> {
  const run = await runCli(args, env, stdin);
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  if (run.code !== 1 || lines.length !== 1) {
    throw new Error(
      `sequences ${args.join(" ")} should fail with one line; exited ${run.code}\n` +
        `stdout: ${run.stdout}\nstderr: ${run.stderr}`,
    );
  }
  return lines[0];
}
