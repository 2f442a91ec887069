/**
 * The process's command line for `/debug/pprof/cmdline`, as Go's `os.Args`.
 *
 * @module
 */

/**
 * The full argv of this process (`deno run --allow-… cmd/app/main.ts …`): read from
 * `/proc/self/cmdline` where the process may read it, else rebuilt from the executable, the main
 * module and the script's arguments (the runtime's own flags are then not known).
 */
export function commandLine(): string[] {
  try {
    const raw = Deno.readTextFileSync("/proc/self/cmdline");
    const args = raw.split("\0");
    if (args.at(-1) === "") args.pop();
    if (args.length > 0) return args;
  } catch { /* not Linux, or no read permission for /proc/self/cmdline */ }
  const main = Deno.mainModule.startsWith("file://")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : Deno.mainModule;
  return [Deno.execPath(), "run", main, ...Deno.args];
}
