/**
 * Least privilege: `deno task run` grants only what the configured service needs (see
 * `internal/permissions/permissions.ts`), the service passes its contract with exactly those
 * flags (embedded store, PostgreSQL over TCP and over its unix socket), and the runtime refuses
 * what they do not grant.
 */
import assert from "node:assert/strict";
import { postgresAvailability, skipWithoutPostgres } from "../../launch/postgres.ts";
import { runFlags, type ServiceProcess, spawnService, startService } from "../../launch/service.ts";
import { sharedPostgres } from "../../launch/test_cluster.ts";

const ROOT = new URL("../../../", import.meta.url);
const root = ROOT.pathname.replace(/\/$/, "");
const ignorePg = skipWithoutPostgres(await postgresAvailability(), "PostgreSQL permission tests");

/** The list of a `--allow-<name>=…` flag; `undefined` when the flag is absent. */
function granted(flags: string[], name: string): string[] | undefined {
  return flags.find((flag) => flag.startsWith(`--allow-${name}=`))?.split("=")[1].split(",");
}

/** The service's contract, as a client sees it, on `service`. */
async function contract(service: ServiceProcess): Promise<void> {
  const get = async (url: string, init?: RequestInit) => {
    const res = await fetch(url, init);
    return { status: res.status, allow: res.headers.get("allow"), text: await res.text() };
  };
  const api = service.api;
  assert.deepEqual(await get(`${api}/v1/sequence`), {
    status: 200,
    allow: null,
    text: '{"status":"ok","sequence":{"number":1}}',
  });
  assert.equal(
    (await get(`${api}/v1/sequence?count=3`)).text,
    '{"status":"ok","sequence":{"number":2,"count":3,"last":4}}',
  );
  assert.equal((await get(`${api}/v1/sequence/orders`)).status, 404);
  assert.equal(
    (await get(`${api}/v1/sequences/orders`, { method: "PUT", body: '{"start":7}' })).status,
    201,
  );
  assert.equal(
    (await get(`${api}/v1/sequence/orders`)).text,
    '{"status":"ok","sequence":{"number":7}}',
  );
  assert.match((await get(`${api}/v1/sequences/orders`)).text, /"name":"orders","start":7/);
  assert.match((await get(`${api}/v1/sequences`)).text, /"name":"default".*"name":"orders"/);
  assert.equal((await get(`${api}/v1/sequence?count=0`)).status, 400);
  const post = await get(`${api}/v1/sequence`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.allow, "GET");
  const debug = service.debug;
  assert.equal((await get(`${debug}/debug/readiness`)).text, '{"status":"ok"}');
  assert.match((await get(`${debug}/debug/liveness`)).text, /"status":"up"/);
  assert.match((await get(`${debug}/debug/metrics`)).text, /^sequencer_ready 1$/m);
  const cmdline = await get(`${debug}/debug/pprof/cmdline`);
  assert.equal(cmdline.status, 200);
  assert.ok(cmdline.text.includes("\0run\0"));
  // V8's profilers through the inspector, and the trace, under exactly these permissions.
  for (const path of ["profile?seconds=1", "heap?seconds=1", "trace?seconds=1"]) {
    const res = await fetch(`${debug}/debug/pprof/${path}`);
    assert.equal(res.status, 200, path);
    assert.ok((await res.arrayBuffer()).byteLength > 0, path);
  }
}

/** Starts the service with `env`, runs the contract, stops it with SIGTERM (exit 0, no stderr). */
async function passesContract(env: Record<string, string>): Promise<void> {
  const service = await startService(env);
  try {
    await contract(service);
    service.kill("SIGTERM");
    const status = await service.status;
    assert.equal(status.code, 0, status.stderr);
    assert.doesNotMatch(status.stderr, /NotCapable|Requires .* access/);
  } finally {
    service.kill("SIGKILL");
    await service.status;
  }
}

Deno.test("deno task run grants only what the configuration needs", async (t) => {
  const task: string = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).tasks.run;

  await t.step("the task computes its permission flags and grants nothing broad itself", () => {
    assert.match(
      task,
      /^deno run --env-file --unstable-net --no-prompt \$\(deno run .*cmd\/permissions\/main\.ts\) cmd\/app\/main\.ts$/,
    );
    assert.doesNotMatch(task.replace(/\$\(.*\)/, ""), /--allow-|-A\b/);
  });

  await t.step(
    "embedded store: read and write only the data, the lock file, the code and cache",
    async () => {
      const flags = await runFlags({ DATA_DIR: "/srv/data", API_PORT: "3000", DEBUG_PORT: "3001" });
      for (const flag of flags) {
        assert.doesNotMatch(flag, /^--allow-(read|write|net|env|run|ffi|import|all)$|^-A$/, flag);
      }
      assert.ok(flags.includes("--allow-sys"), "sys whole: the inspector cannot be named alone");
      assert.deepEqual(granted(flags, "write"), ["/srv/data", "/tmp/sequencer-api-3000.lock"]);
      const read = granted(flags, "read")!;
      for (const path of [`${root}/cmd`, `${root}/internal`, "/srv/data"]) {
        assert.ok(read.includes(path), `${path} readable`);
      }
      assert.deepEqual(granted(flags, "net"), ["0.0.0.0:3000", "127.0.0.1:3001"]);
      const env = granted(flags, "env")!;
      for (const name of ["API_PORT", "DATA_DIR", "DATABASE_URL", "WORKERS", "AUTH_TOKENS_FILE"]) {
        assert.ok(env.includes(name), name);
      }
      assert.ok(!env.includes("PATH") && !env.includes("AWS_SECRET_ACCESS_KEY"));
      assert.equal(granted(flags, "run"), undefined);
    },
  );

  await t.step("token and TLS files are readable, nothing more", async () => {
    const flags = await runFlags({
      DATA_DIR: "/srv/data",
      API_PORT: "0",
      AUTH_TOKENS_FILE: "/etc/seq/tokens",
      TLS_CERT_FILE: "/etc/seq/cert.pem",
      TLS_KEY_FILE: "/etc/seq/key.pem",
    });
    const read = granted(flags, "read")!;
    for (const path of ["/etc/seq/tokens", "/etc/seq/cert.pem", "/etc/seq/key.pem"]) {
      assert.ok(read.includes(path), path);
    }
    assert.deepEqual(granted(flags, "write"), ["/srv/data"], "API_PORT=0 takes no lock file");
  });

  await t.step(
    "PostgreSQL: net reaches its hosts; a socket folder is its socket file",
    async () => {
      const flags = await runFlags({
        API_HOST: "127.0.0.1",
        API_PORT: "0",
        DEBUG_PORT: "0",
        DATABASE_URL:
          "postgres://u:secret@db1:6000,[::1]/x?sslmode=verify-full&sslrootcert=/ca.pem",
      });
      assert.deepEqual(granted(flags, "net"), ["127.0.0.1", "db1:6000", "[::1]:5432"]);
      assert.ok(granted(flags, "read")!.includes("/ca.pem"));
      const socket = await runFlags({
        API_PORT: "0",
        DATABASE_URL: "postgres://u@/x?host=/run/postgresql&port=5433",
      });
      assert.ok(granted(socket, "write")!.includes("/run/postgresql/.s.PGSQL.5433"));
      assert.ok(granted(socket, "net")!.includes("unix:/run/postgresql/.s.PGSQL.5433"));
      assert.ok(!flags.join(" ").includes("secret"), "no password in the flags");
    },
  );
});

Deno.test("the service passes its contract with exactly the flags of deno task run", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-perms-" });
  try {
    for (const workers of ["1", "2"]) {
      await t.step(`embedded store, WORKERS=${workers}`, async () => {
        await passesContract({ DATA_DIR: `${dir}/w${workers}`, WORKERS: workers });
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the service passes its contract on PostgreSQL with exactly the flags of deno task run",
  ignore: ignorePg,
  fn: async (t) => {
    const pg = await sharedPostgres();
    const dir = await Deno.makeTempDir({ prefix: "sequencer-perms-pg-" });
    try {
      await t.step("over TCP", async () => {
        const url = await pg.freshDatabase("perms_tcp");
        await passesContract({ DATA_DIR: dir, WORKERS: "2", DATABASE_URL: url });
      });
      await t.step("over the unix socket", async () => {
        const database = new URL(await pg.freshDatabase("perms_sock")).pathname.slice(1);
        const url = `postgres://postgres@/${database}?host=${pg.socketDir}&port=${pg.port}`;
        await passesContract({ DATA_DIR: dir, WORKERS: "1", DATABASE_URL: url });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the runtime refuses what the flags do not grant", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-perms-deny-" });
  try {
    await t.step(
      "a DATA_DIR other than the one the flags were made for: exit 1, write refused",
      async () => {
        // spawnService's defaults (ports 0, one worker) for the flags as for the process.
        const defaults = { API_PORT: "0", DEBUG_PORT: "0", WORKERS: "1" };
        const flags = await runFlags({ ...defaults, DATA_DIR: `${dir}/granted` });
        const service = await spawnService({ DATA_DIR: `${dir}/elsewhere` }, { flags });
        const status = await service.status;
        assert.equal(status.code, 1);
        assert.match(
          status.stderr,
          new RegExp(
            `DATA_DIR="${dir}/elsewhere" cannot be used: Requires write access to "${dir}/elsewhere"`,
          ),
        );
        await assert.rejects(Deno.stat(`${dir}/elsewhere/sequencer.db`), Deno.errors.NotFound);
      },
    );

    await t.step(
      "a listener on an address the flags do not grant: exit 1, net refused",
      async () => {
        const env = {
          API_PORT: "0",
          DEBUG_PORT: "0",
          WORKERS: "1",
          DATA_DIR: `${dir}/net`,
          API_HOST: "127.0.0.1",
        };
        const flags = await runFlags(env);
        const service = await spawnService({ ...env, DEBUG_HOST: "0.0.0.0" }, { flags });
        const status = await service.status;
        assert.equal(status.code, 1);
        assert.match(status.stderr, /Requires net access to "0\.0\.0\.0:0"/);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task run itself (with its $(…)) serves numbers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-perms-task-" });
  const service = await startService({ DATA_DIR: dir }, {
    command: [Deno.execPath(), "task", "run"],
  });
  // The service is deno task's child: it is stopped by its own pid, then deno task ends with it.
  const pid = Number((await service.waitForLog((e) => e.msg === "starting")).pid);
  try {
    const res = await fetch(`${service.api}/v1/sequence`);
    assert.equal(await res.text(), '{"status":"ok","sequence":{"number":1}}');
    Deno.kill(pid, "SIGTERM");
    const status = await service.status;
    assert.equal(status.code, 0);
    assert.doesNotMatch(status.stderr, /NotCapable|Requires .* access/);
  } finally {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* exited */ }
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
});
