/**
 * The process's command line for `/debug/pprof/cmdline`, as Go's `os.Args`.
 *
 * Deno 2 lets a process read `/proc/self/cmdline` only under `--allow-all` (it counts every file
 * under `/proc/self` as special), and reveals its own flags nowhere else. So unless the process
 * may read that file, the command line is rebuilt from what the runtime does reveal: the
 * executable, `run`, the `--unstable-*` flags whose APIs are present, an `--allow-<name>` flag for
 * each permission granted in full, the main module and the script's arguments. For the command
 * `deno task run` runs that is the same list; flags the runtime cannot reveal (permission lists
 * such as `--allow-read=/data`, `--deny-*`, `--env-file`, `--v8-flags`) are left out.
 *
 * @module
 */

/** Permissions in the order `deno run --help` lists them. */
const PERMISSIONS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;

/** Unstable flags, each told by an API that exists only with it. */
const UNSTABLE: readonly [flag: string, api: string][] = [
  ["--unstable-net", "listenDatagram"],
  ["--unstable-kv", "openKv"],
  ["--unstable-cron", "cron"],
];

/** Options of {@link commandLine}. */
export interface CommandLineOptions {
  /** The file holding the NUL-separated argv. Default `/proc/self/cmdline`. */
  procFile?: string;
}

/**
 * The full argv of this process (`deno run --allow-… cmd/app/main.ts …`): read from
 * `/proc/self/cmdline` where the process may read it, else rebuilt as the module documentation
 * says.
 */
export function commandLine(options: CommandLineOptions = {}): string[] {
  try {
    const raw = Deno.readTextFileSync(options.procFile ?? "/proc/self/cmdline");
    const args = raw.split("\0");
    if (args.at(-1) === "") args.pop();
    if (args.length > 0) return args;
  } catch { /* not Linux, or no permission: Deno 2 wants --allow-all for /proc/self */ }
  return [Deno.execPath(), "run", ...runtimeFlags(), mainModulePath(), ...Deno.args];
}

/** The flags this process shows it was started with: unstable APIs, then full permissions. */
function runtimeFlags(): string[] {
  const api = Deno as unknown as Record<string, unknown>;
  const unstable = UNSTABLE.filter(([, name]) => typeof api[name] === "function");
  const granted = PERMISSIONS.filter((name) => {
    const status = Deno.permissions.querySync({ name });
    return status.state === "granted" && !status.partial;
  });
  return [...unstable.map(([flag]) => flag), ...granted.map((name) => `--allow-${name}`)];
}

function mainModulePath(): string {
  return Deno.mainModule.startsWith("file://")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : Deno.mainModule;
}
