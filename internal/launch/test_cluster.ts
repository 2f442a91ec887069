/**
 * One private PostgreSQL for every test of a test run that never stops, freezes or restarts it;
 * each test takes a fresh database on it ({@link SharedPostgres.freshDatabase}). Tests that stop,
 * freeze, restart or reconfigure PostgreSQL start their own with `requirePostgres()`.
 *
 * `deno test` runs every test module in the same OS process but each in an isolate of its own, so
 * nothing in memory is shared between modules: the cluster is found through a folder named after
 * the test process's pid holding `state.json`, and a lock file there makes two modules asking at
 * once start it only once. The process environment is shared by the isolates, so a random token in
 * it tells this process's state from a stale one left by an earlier process with the same pid.
 * The first asker also starts a watchdog process, in a session of its own, that stops the cluster
 * and removes its folders as soon as the test process is gone: after the last test, or when the
 * process is killed (even with SIGKILL). A single test file run alone works the same way.
 *
 * ```ts
 * const pg = await sharedPostgres();
 * const url = await pg.freshDatabase("orders");
 * ```
 *
 * Run as a program (`deno run … test_cluster.ts <state folder>`), this module is that watchdog.
 *
 * @module
 */
import {
  attachPostgres,
  findProgram,
  type PgLocation,
  REQUIRE_POSTGRES_ENV,
  startPostgres,
} from "./postgres.ts";

/** The shared cluster as a test sees it: no way to stop, freeze or restart it. */
export interface SharedPostgres {
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** The unix socket folder. */
  readonly socketDir: string;
  /** The URL of `database` over TCP, as the trusted superuser `postgres`. */
  urlFor(database: string): string;
  /**
   * Creates an empty database named `label` plus a random suffix (so modules never collide),
   * owned by `owner` if given; returns its URL (as the superuser).
   */
  freshDatabase(label: string, options?: { owner?: string }): Promise<string>;
  /** Creates a login role that must give `password` over TCP; see `PgInstance.createRole`. */
  createRole(name: string, password: string): Promise<void>;
  /** The server log so far, for failure messages. */
  log(): Promise<string>;
}

/** What the state folder records. */
interface SharedState {
  /** The token of the test process ({@link TOKEN_ENV}). */
  token: string;
  /** The test process's pid. */
  owner: number;
  /** The cluster. */
  location: PgLocation;
}

/** The environment variable holding this test process's token. */
const TOKEN_ENV = "SEQUENCER_SHARED_PG_TOKEN";
const LABEL = /^[a-z_][a-z0-9_]{0,40}$/;
/** Milliseconds between the watchdog's looks at the test process. */
const WATCH_INTERVAL_MS = 200;
/** Milliseconds a module waits for the watchdog to report in. */
const WATCHDOG_READY_MS = 60_000;

/**
 * The cluster shared by this test process, started (with its watchdog) by the first caller.
 * @throws when PostgreSQL cannot run here (with the reason) or fails to start.
 */
export async function sharedPostgres(): Promise<SharedPostgres> {
  const folder = stateFolder(Deno.pid);
  await Deno.mkdir(folder, { recursive: true });
  const lock = await Deno.open(`${folder}/lock`, { read: true, write: true, create: true });
  try {
    await lock.lock(true);
    let token = Deno.env.get(TOKEN_ENV);
    if (token === undefined) {
      token = crypto.randomUUID();
      Deno.env.set(TOKEN_ENV, token);
    }
    const state = await readState(folder);
    if (state !== undefined && state.token === token && (await accepts(state.location.port))) {
      return sharedHandle(state.location);
    }
    if (state !== undefined) {
      // Left by an earlier process with this pid whose watchdog did not finish, or stopped.
      await attachPostgres(state.location).destroy().catch(() => {});
    }
    return sharedHandle(await startShared(folder, token));
  } finally {
    await lock.unlock().catch(() => {});
    lock.close();
  }
}

/** The state folder of the test process `pid`. */
function stateFolder(pid: number): string {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  return `${tmp}/sequencer-pg-shared-${pid}`;
}

/** Starts the cluster and its watchdog; called with the lock held. */
async function startShared(folder: string, token: string): Promise<PgLocation> {
  await Deno.remove(`${folder}/state.json`).catch(() => {});
  await Deno.remove(`${folder}/watchdog.pid`).catch(() => {});
  const pg = await startPostgres();
  if ("skipped" in pg) {
    throw new Error(
      `PostgreSQL is required (${REQUIRE_POSTGRES_ENV}=1) but cannot run: ${pg.skipped}`,
    );
  }
  try {
    const state: SharedState = { token, owner: Deno.pid, location: pg.location };
    await Deno.writeTextFile(`${folder}/state.json`, JSON.stringify(state));
    await startWatchdog(folder);
    return pg.location;
  } catch (error) {
    await pg.destroy().catch(() => {});
    await Deno.remove(`${folder}/state.json`).catch(() => {});
    throw error;
  }
}

/** Starts the watchdog in a session of its own and waits until it watches. */
async function startWatchdog(folder: string): Promise<void> {
  const setsid = await findProgram("setsid", ["/usr/bin/setsid", "/bin/setsid"]);
  if (setsid === undefined) throw new Error("setsid (util-linux) is needed for the watchdog");
  const out = await new Deno.Command(setsid, {
    args: [
      "--fork",
      Deno.execPath(),
      "run",
      "--quiet",
      // Reading another process's /proc entry needs every permission.
      "--allow-all",
      new URL(import.meta.url).pathname,
      folder,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error(`setsid could not start the watchdog (exit ${out.code})`);
  const deadline = performance.now() + WATCHDOG_READY_MS;
  while (!(await exists(`${folder}/watchdog.pid`))) {
    if (performance.now() > deadline) {
      throw new Error(`the PostgreSQL watchdog did not start within ${WATCHDOG_READY_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function sharedHandle(location: PgLocation): SharedPostgres {
  const pg = attachPostgres(location);
  return {
    port: pg.port,
    socketDir: pg.socketDir,
    urlFor: (database) => pg.urlFor(database),
    freshDatabase(label, options = {}) {
      if (!LABEL.test(label)) {
        throw new RangeError(`label ${JSON.stringify(label)} is invalid: must match ${LABEL}`);
      }
      const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
      return pg.createDatabase(`${label}_${suffix}`, options);
    },
    createRole: (name, password) => pg.createRole(name, password),
    log: () => pg.log(),
  };
}

async function readState(folder: string): Promise<SharedState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${folder}/state.json`));
  } catch {
    return undefined;
  }
}

/** Whether something on 127.0.0.1 accepts connections on `port`. */
export async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The start time of process `pid` (field 22 of `/proc/<pid>/stat`), which tells it from a later
 * process that reuses the pid; `undefined` when it is gone or a zombie. Needs `--allow-all`.
 */
async function startTimeOf(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces, so count fields after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

/**
 * The watchdog: waits until the test process of `folder` is gone, then stops its cluster
 * (`immediate`: nothing in it is worth keeping) and removes the cluster's and the state's folders.
 */
async function watch(folder: string): Promise<void> {
  const state = await readState(folder);
  if (state === undefined) throw new Error(`no state in ${folder}`);
  // The test process waits for this file, so it is alive now: its start time identifies it.
  const started = await startTimeOf(state.owner);
  if (started === undefined) throw new Error(`process ${state.owner} is gone`);
  await Deno.writeTextFile(`${folder}/watchdog.pid`, String(Deno.pid));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => {/* outlive the test run's terminal */});
  }
  while ((await startTimeOf(state.owner)) === started) {
    await new Promise((resolve) => setTimeout(resolve, WATCH_INTERVAL_MS));
  }
  await attachPostgres(state.location).destroy().catch(() => {/* already stopped */});
  await Deno.remove(state.location.dir, { recursive: true }).catch(() => {});
  await Deno.remove(folder, { recursive: true }).catch(() => {});
}

if (import.meta.main) {
  await watch(Deno.args[0]);
  Deno.exit(0);
}
