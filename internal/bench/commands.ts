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

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolves once `port` on 127.0.0.1 accepts connections. */
export async function waitForPort(port: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
