/**
 * Small process and port helpers of the benchmark harness.
 *
 * @module
 */

/** Runs a program to completion; code 127 when it cannot start. */
export async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const result = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder();
    return { code: result.code, out: text.decode(result.stdout) + text.decode(result.stderr) };
  } catch {
    return { code: 127, out: "" };
  }
}

/** The path of `cmd` on PATH, or `undefined`. */
export async function installed(cmd: string): Promise<string | undefined> {
  const found = await run("sh", ["-c", `command -v ${cmd}`]);
  return found.code === 0 ? found.out.trim() : undefined;
}
