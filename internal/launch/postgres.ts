/**
 * A private PostgreSQL server for tests: its own data directory in a fresh temporary folder, its
 * own free port on 127.0.0.1, its unix socket inside that folder, trust authentication. It never
 * touches the system's PostgreSQL service. The Debian binaries are used
 * (`/usr/lib/postgresql/<version>/bin`, or the folder named by `SEQUENCER_PG_BINDIR`); this module
 * never installs anything (`.ci/run` does). PostgreSQL refuses to run as root, so as root every
 * server command runs as the `postgres` OS user through `runuser`.
 *
 * ```ts
 * const pg = await startPostgres();
 * if ("skipped" in pg) throw new Error(pg.skipped);
 * try {
 *   const url = await pg.createDatabase("t1"); // a fresh database per test
 * } finally {
 *   await pg.destroy();
 * }
 * ```
 *
 * Tests that need PostgreSQL use {@link postgresAvailability} at module level to decide whether to
 * skip: they skip, with a warning, only when this machine cannot run PostgreSQL at all, and never
 * when `SEQUENCER_REQUIRE_POSTGRES=1` (CI), where a missing PostgreSQL is a failure. Tests that
 * never stop, freeze or restart the server share one per test run (`test_cluster.ts`).
 *
 * Connections over TCP are trusted, except for roles made with {@link PgInstance.createRole}: they
 * must give their password (SCRAM), so tests can check how passwords travel.
 *
 * @module
 */
import { freePort } from "./ports.ts";

/** Set to `1` (CI) to make a PostgreSQL that cannot start a test failure instead of a skip. */
export const REQUIRE_POSTGRES_ENV = "SEQUENCER_REQUIRE_POSTGRES";
/** Optional folder holding `initdb`, `pg_ctl`, `postgres` and `createdb`. */
export const PG_BINDIR_ENV = "SEQUENCER_PG_BINDIR";

const DEBIAN_ROOT = "/usr/lib/postgresql";
const NEEDED = ["initdb", "pg_ctl", "postgres", "createdb", "psql"];
/** Superuser of the private server; trust authentication, so no password. */
const SUPERUSER = "postgres";
/** Database and role names the harness accepts. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Members of this role must log in with their password over TCP (see {@link PgInstance.createRole}). */
const PASSWORD_GROUP = "sequencer_password_login";
/** Where `runuser` (util-linux) is looked for when it is not on PATH. */
const RUNUSER_FALLBACKS = ["/usr/sbin/runuser", "/sbin/runuser"];

/** A running private PostgreSQL server. */
export interface PgInstance {
  /** URL of the `postgres` database over TCP on 127.0.0.1, as superuser `postgres`. */
  readonly url: string;
  /** The TCP port (127.0.0.1 only). */
  readonly port: number;
  /** The temporary folder holding the data directory, the socket and `server.log`. */
  readonly dir: string;
  /** The unix socket folder (inside {@link dir}). */
  readonly socketDir: string;
  /** Where the server is and how its programs run, to control it from another process. */
  readonly location: PgLocation;
  /** The URL of `database` on this server over TCP. */
  urlFor(database: string): string;
  /**
   * Creates an empty database `name` (`[a-z_][a-z0-9_]*`), owned by `owner` (default the
   * superuser), and returns its URL (as the superuser).
   */
  createDatabase(name: string, options?: { owner?: string }): Promise<string>;
  /**
   * Creates a login role `name` (`[a-z_][a-z0-9_]*`) with `password` (any text); it must give
   * that password over TCP (SCRAM), unlike the trusted superuser.
   */
  createRole(name: string, password: string): Promise<void>;
  /** Stops the server (`pg_ctl stop -m fast`, or `immediate` to simulate a crash); keeps the data. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts the server again on the same data directory and port. */
  start(): Promise<void>;
  /** {@link stop} then {@link start}. */
  restart(): Promise<void>;
  /**
   * Suspends every server process (`SIGSTOP`): the port still accepts connections but nothing
   * answers, like a server that hangs or a network that drops packets. Undo with {@link thaw}.
   */
  freeze(): Promise<void>;
  /** Resumes the processes suspended by {@link freeze}. */
  thaw(): Promise<void>;
  /**
   * Turns TLS on with a new self-signed certificate for `subjectAltName` (OpenSSL syntax, e.g.
   * `DNS:localhost,IP:127.0.0.1`) and restarts the server; returns the PEM file that verifies it.
   */
  enableTls(subjectAltName: string): Promise<string>;
  /** The server log so far, for failure messages. */
  log(): Promise<string>;
  /** Stops the server if it runs and removes the temporary folder. Safe to call twice. */
  destroy(): Promise<void>;
}

/** Why a private PostgreSQL cannot run here, or how it would be run. */
export type PgAvailability =
  | {
    ok: true;
    /** The folder of the server's programs. */
    bindir: string;
    /** The OS user the server runs as (when this process is root). */
    runAs: string | undefined;
    /** The full path of `runuser`, found when {@link runAs} is set. */
    runuser: string | undefined;
  }
  | { ok: false; reason: string };

/** Where a private server is and how its programs run: plain data, usable from any process. */
export interface PgLocation {
  /** The folder of the server's programs. */
  bindir: string;
  /** The OS user the server runs as, if any. */
  runAs?: string;
  /** The full path of `runuser`, when {@link runAs} is set. */
  runuser?: string;
  /** The temporary folder of the server (data directory, socket, log). */
  dir: string;
  /** The TCP port on 127.0.0.1. */
  port: number;
}

/**
 * Checks, without starting anything, whether this machine can run a private PostgreSQL: the
 * binaries exist and, as root, the `postgres` OS user and `runuser` exist.
 */
export async function postgresAvailability(): Promise<PgAvailability> {
  const bindir = await findBindir();
  if (typeof bindir !== "string") return { ok: false, reason: bindir.reason };
  if (Deno.uid() !== 0) return { ok: true, bindir, runAs: undefined, runuser: undefined };
  if (!(await userExists(SUPERUSER))) {
    return {
      ok: false,
      reason: `running as root, but the OS user "${SUPERUSER}" that PostgreSQL must run as ` +
        `does not exist (the Debian package "postgresql" creates it)`,
    };
  }
  const runuser = await findProgram("runuser", RUNUSER_FALLBACKS);
  if (runuser === undefined) {
    return {
      ok: false,
      reason: `running as root, but runuser (util-linux) is neither on PATH nor in ` +
        RUNUSER_FALLBACKS.join(" or "),
    };
  }
  return { ok: true, bindir, runAs: SUPERUSER, runuser };
}

/**
 * The command that runs `program` (a full path) of a private server: as the server's OS user
 * through the `runuser` that {@link postgresAvailability} found (by its full path, so `PATH` does
 * not matter), or directly.
 */
export function serverCommand(
  location: Pick<PgLocation, "runAs" | "runuser">,
  argv: string[],
  options: { cwd?: string; stdin?: "null" | "piped" } = {},
): Deno.Command {
  const common = {
    cwd: options.cwd,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  } as const;
  if (location.runAs === undefined) {
    return new Deno.Command(argv[0], { ...common, args: argv.slice(1) });
  }
  if (location.runuser === undefined) {
    throw new Error(`running as ${location.runAs} needs the path of runuser`);
  }
  return new Deno.Command(location.runuser, {
    ...common,
    args: ["-u", location.runAs, "--", ...argv],
  });
}

/**
 * Whether tests that need PostgreSQL must be skipped: `ignore` for `Deno.test`. Prints a visible
 * warning when skipping. When `SEQUENCER_REQUIRE_POSTGRES=1`, never skips (the test then fails
 * in {@link startPostgres} with the reason).
 */
export function skipWithoutPostgres(availability: PgAvailability, what: string): boolean {
  if (availability.ok) return false;
  if (Deno.env.get(REQUIRE_POSTGRES_ENV) === "1") return false;
  console.warn(
    `SKIPPED ${what}: no private PostgreSQL can run here: ${availability.reason}. ` +
      `Install it with "apt-get install -y postgresql"; set ${REQUIRE_POSTGRES_ENV}=1 to fail ` +
      `instead of skipping.`,
  );
  return true;
}

/**
 * Starts a private PostgreSQL in a fresh temporary folder on a free port, or explains why it
 * cannot (`skipped`). Never installs anything and never uses the system service.
 * @throws when the binaries are present but the server fails to start (a real problem).
 */
export async function startPostgres(): Promise<PgInstance | { skipped: string }> {
  const availability = await postgresAvailability();
  if (!availability.ok) return { skipped: availability.reason };
  const location = await initCluster(availability);
  const instance = attachPostgres(location, { running: false });
  try {
    await instance.start();
  } catch (error) {
    const log = await instance.log();
    await Deno.remove(location.dir, { recursive: true }).catch(() => {});
    throw new Error(`private PostgreSQL did not start: ${message(error)}\n${log}`, {
      cause: error,
    });
  }
  return instance;
}

/**
 * {@link startPostgres}, failing with the reason when PostgreSQL cannot run here. For tests
 * already known not to be skipped.
 */
export async function requirePostgres(): Promise<PgInstance> {
  const pg = await startPostgres();
  if ("skipped" in pg) {
    throw new Error(
      `PostgreSQL is required (${REQUIRE_POSTGRES_ENV}=1) but cannot run: ${pg.skipped}`,
    );
  }
  return pg;
}

/** Makes a new data directory (initdb) in a fresh temporary folder, configured but not started. */
async function initCluster(availability: PgAvailability & { ok: true }): Promise<PgLocation> {
  const { bindir, runAs, runuser } = availability;
  const dir = await Deno.makeTempDir({ prefix: "sequencer-pg-" });
  const location: PgLocation = {
    bindir,
    ...(runAs === undefined ? {} : { runAs, runuser }),
    dir,
    port: freePort(),
  };
  try {
    if (runAs !== undefined) {
      const { uid, gid } = await userIds(runAs);
      await Deno.chown(dir, uid, gid);
    }
    const data = `${dir}/data`;
    await runTool(location, "initdb", [
      "-D",
      data,
      "-U",
      SUPERUSER,
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
    ]);
    await Deno.writeTextFile(
      `${data}/postgresql.conf`,
      [
        "",
        "# private test server (sequencer internal/launch/postgres.ts)",
        `port = ${location.port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${dir}'`,
        "max_connections = 300",
        "log_min_messages = warning",
        "password_encryption = 'scram-sha-256'",
        "",
      ].join("\n"),
      { append: true },
    );
    // The first matching line wins: members of PASSWORD_GROUP give their password over TCP.
    const hba = await Deno.readTextFile(`${data}/pg_hba.conf`);
    await Deno.writeTextFile(
      `${data}/pg_hba.conf`,
      [
        "# roles made by createRole log in with their password",
        `host all +${PASSWORD_GROUP} 127.0.0.1/32 scram-sha-256`,
        `host all +${PASSWORD_GROUP} ::1/128 scram-sha-256`,
        hba,
      ].join("\n"),
    );
    return location;
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** Runs `tool` of the server's programs; resolves with its output, throws when it fails. */
async function runTool(
  location: PgLocation,
  tool: string,
  args: string[],
  input?: string,
): Promise<string> {
  const command = serverCommand(location, [`${location.bindir}/${tool}`, ...args], {
    cwd: location.dir,
    stdin: input === undefined ? "null" : "piped",
  });
  let out: Deno.CommandOutput;
  if (input === undefined) {
    out = await command.output();
  } else {
    const child = command.spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
    out = await child.output();
  }
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`${tool} ${args.join(" ")} failed (exit ${out.code}): ${text.trim()}`);
  }
  return text;
}

/**
 * The handle of the server at `location` (made by this harness, possibly in another process):
 * `running` says whether it runs now (default true).
 */
export function attachPostgres(
  location: PgLocation,
  options: { running?: boolean } = {},
): PgInstance {
  const { dir, port } = location;
  const data = `${dir}/data`;
  const logFile = `${dir}/server.log`;
  let running = options.running ?? true;
  let frozen = false;
  let destroyed = false;
  let tls = false;
  let certificates = 0;
  // How psql and createdb reach this server, as its superuser.
  const server = ["-h", "127.0.0.1", "-p", String(port), "-U", SUPERUSER];
  const psql = (sql: string) =>
    runTool(location, "psql", [
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      ...server,
      "-d",
      "postgres",
      "-f",
      "-",
    ], sql);
  const pgCtl = async (args: string[]): Promise<void> => {
    await runTool(location, "pg_ctl", ["-D", data, "-l", logFile, "-w", "-t", "60", ...args]);
  };
  const serverPids = async (): Promise<number[]> => {
    const text = await Deno.readTextFile(`${data}/postmaster.pid`);
    const postmaster = Number(text.split("\n")[0]);
    // Its children: every backend and helper process (each in a session of its own).
    const ps = await new Deno.Command("ps", {
      args: ["-o", "pid=", "--ppid", String(postmaster)],
      stdin: "null",
    }).output().catch((error) => {
      throw new Error(`ps (Debian package procps) is needed to find the server's processes`, {
        cause: error,
      });
    });
    const pids = [postmaster];
    for (const word of new TextDecoder().decode(ps.stdout).split(/\s+/)) {
      if (/^\d+$/.test(word)) pids.push(Number(word));
    }
    return pids;
  };
  const signalAll = async (signal: Deno.Signal): Promise<void> => {
    for (const pid of await serverPids()) {
      try {
        Deno.kill(pid, signal);
      } catch { /* the process ended meanwhile */ }
    }
  };
  const checkName = (what: string, name: string) => {
    if (!DATABASE_NAME.test(name)) {
      throw new RangeError(
        `${what} name ${JSON.stringify(name)} is invalid: must match ${DATABASE_NAME}`,
      );
    }
  };

  const instance: PgInstance = {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    socketDir: dir,
    location,
    urlFor: (database) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`,
    async createDatabase(name, createOptions = {}) {
      checkName("database", name);
      const owner = createOptions.owner;
      if (owner !== undefined) checkName("role", owner);
      await runTool(location, "createdb", [
        ...server,
        ...(owner === undefined ? [] : ["-O", owner]),
        name,
      ]);
      return instance.urlFor(name);
    },
    async createRole(name, password) {
      checkName("role", name);
      // A string constant with standard_conforming_strings (the default): only ' is special.
      const literal = `'${password.replaceAll("'", "''")}'`;
      await psql(
        `DO $$ BEGIN CREATE ROLE ${PASSWORD_GROUP} NOLOGIN; ` +
          `EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n` +
          `CREATE ROLE ${name} LOGIN PASSWORD ${literal} IN ROLE ${PASSWORD_GROUP};\n`,
      );
    },
    async stop(mode = "fast") {
      if (frozen) await instance.thaw();
      await pgCtl(["-m", mode, "stop"]);
      running = false;
    },
    async start() {
      await pgCtl(["start"]);
      running = true;
    },
    async restart() {
      await instance.stop();
      await instance.start();
    },
    async freeze() {
      await signalAll("SIGSTOP");
      frozen = true;
    },
    async thaw() {
      await signalAll("SIGCONT");
      frozen = false;
    },
    async enableTls(subjectAltName) {
      const key = `${data}/server.key`;
      const cert = `${data}/server.crt`;
      const out = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "2",
          "-subj",
          "/CN=sequencer test server",
          "-addext",
          `subjectAltName=${subjectAltName}`,
          "-keyout",
          key,
          "-out",
          cert,
        ],
        stdin: "null",
      }).output();
      if (!out.success) {
        throw new Error(
          `openssl could not make a certificate: ${new TextDecoder().decode(out.stderr)}`,
        );
      }
      await Deno.chmod(key, 0o600);
      if (location.runAs !== undefined) {
        const { uid, gid } = await userIds(location.runAs);
        await Deno.chown(key, uid, gid);
        await Deno.chown(cert, uid, gid);
      }
      const ca = `${dir}/ca-${++certificates}.pem`;
      await Deno.copyFile(cert, ca);
      if (!tls) {
        await Deno.writeTextFile(`${data}/postgresql.conf`, "ssl = on\n", { append: true });
        tls = true;
      }
      if (running) await instance.restart();
      return ca;
    },
    async log() {
      try {
        return await Deno.readTextFile(logFile);
      } catch (error) {
        return `(no server log: ${message(error)})`;
      }
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        if (running) {
          if (frozen) await instance.thaw();
          await pgCtl(["-m", "immediate", "stop"]);
          running = false;
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
  return instance;
}

async function findBindir(): Promise<string | { reason: string }> {
  const override = Deno.env.get(PG_BINDIR_ENV);
  const candidates: string[] = [];
  if (override) {
    candidates.push(override);
  } else {
    try {
      const versions: number[] = [];
      for await (const entry of Deno.readDir(DEBIAN_ROOT)) {
        if (entry.isDirectory && /^\d+$/.test(entry.name)) versions.push(Number(entry.name));
      }
      versions.sort((a, b) => b - a);
      candidates.push(...versions.map((v) => `${DEBIAN_ROOT}/${v}/bin`));
    } catch {
      return { reason: `${DEBIAN_ROOT} does not exist (PostgreSQL is not installed)` };
    }
  }
  for (const bindir of candidates) {
    const present = await Promise.all(NEEDED.map((tool) => isFile(`${bindir}/${tool}`)));
    if (present.every(Boolean)) return bindir;
  }
  const where = override ? `${PG_BINDIR_ENV}=${override}` : `${DEBIAN_ROOT}/*/bin`;
  return { reason: `no folder among ${where} holds all of ${NEEDED.join(", ")}` };
}

/** `name` on PATH, else the first of `fallbacks` that exists; a full path either way. */
export async function findProgram(name: string, fallbacks: string[]): Promise<string | undefined> {
  const path = Deno.env.get("PATH") ?? "";
  for (const folder of path.split(":")) {
    if (folder.startsWith("/") && (await isFile(`${folder}/${name}`))) return `${folder}/${name}`;
  }
  for (const candidate of fallbacks) if (await isFile(candidate)) return candidate;
  return undefined;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function passwdEntry(user: string): Promise<string[] | undefined> {
  try {
    const passwd = await Deno.readTextFile("/etc/passwd");
    return passwd.split("\n").map((line) => line.split(":")).find((fields) => fields[0] === user);
  } catch {
    return undefined;
  }
}

async function userExists(user: string): Promise<boolean> {
  return (await passwdEntry(user)) !== undefined;
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const fields = await passwdEntry(user);
  if (fields === undefined) throw new Error(`OS user ${JSON.stringify(user)} does not exist`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
