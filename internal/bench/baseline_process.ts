/**
 * Starts the bare baseline (`baseline.ts`) as a process of its own, so that its CPU time can be
 * read from `/proc` exactly like the service's.
 *
 * @module
 */

/** A running baseline. */
export interface BaselineProcess {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The process id, for its CPU time. */
  pid: number;
  /** Kills it (SIGKILL: it holds nothing) and waits for it. */
  stop(): Promise<void>;
}

/** Options of {@link startBaseline}. */
export interface BaselineOptions {
  /** Listener threads (like the service's `WORKERS`). */
  workers: number;
  /** Also send the service's `cache-control: no-store` (the same-headers baseline). */
  noStore?: boolean;
}

/** Starts `baseline.ts`; resolves once every listener is up. */
export async function startBaseline(options: BaselineOptions): Promise<BaselineProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      new URL("./baseline.ts", import.meta.url).pathname,
    ],
    env: {
      WORKERS: String(options.workers),
      PORT: "0",
      NO_STORE: options.noStore ? "1" : "0",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error("baseline exited before listening");
    }
    text += value;
  }
  const port = JSON.parse(text.split("\n")[0]).port;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    },
  };
}
