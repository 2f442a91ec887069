import assert from "node:assert/strict";
import { makeTestCertificates } from "../../launch/certificates.ts";
import { startService } from "../../launch/service.ts";

const ROOT = new URL("../../../", import.meta.url);
const dockerfile = await Deno.readTextFile(new URL("Dockerfile", ROOT));
const makefile = await Deno.readTextFile(new URL("Makefile", ROOT));

/** ENV defaults of the Dockerfile (one ENV instruction with continuation lines). */
function dockerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const instruction = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1];
  for (const [, name, value] of instruction.matchAll(/([A-Z_]+)=(\S+)/g)) env[name] = value;
  return env;
}

/** The CMD array of the Dockerfile. */
function dockerCmd(): string[] {
  const text = /^CMD (\[[\s\S]*?\])$/m.exec(dockerfile)![1].replace(/\\\n/g, "");
  return JSON.parse(text);
}

/** The shell script the CMD runs (`sh -c <script>`). */
function dockerScript(): string {
  const cmd = dockerCmd();
  assert.deepEqual(cmd.slice(0, 2), ["sh", "-c"]);
  assert.equal(cmd.length, 3);
  return cmd[2];
}

/** The environment of the image's `deno` user: the ENV above, and DENO_DIR from the base image. */
function imageEnv(): Record<string, string> {
  return { ...dockerEnv(), DENO_DIR: "/deno-dir/", HOME: "/home/deno" };
}

/** Runs the `$(…)` of the CMD's script natively with `env`: the permission flags it prints. */
async function cmdPermissions(env: Record<string, string>): Promise<string[]> {
  const substitution = /\$\(deno ([^)]*)\)/.exec(dockerScript())![1].split(" ");
  const output = await new Deno.Command(Deno.execPath(), {
    args: substitution.filter((arg) => arg !== "--cached-only"),
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success);
  return new TextDecoder().decode(output.stdout).trim().split(" ");
}

/** The HEALTHCHECK's CMD array. */
function healthCmd(): string[] {
  const text = /^HEALTHCHECK .*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)![1];
  return JSON.parse(text);
}

/** Runs the HEALTHCHECK command natively against `debugPort`; its exit code. */
async function runHealthCheck(
  debugPort: string,
  env: Record<string, string> = {},
): Promise<number> {
  const [program, ...args] = healthCmd();
  assert.equal(program, "deno");
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    env: { ...env, DEBUG_PORT: debugPort },
    stdout: "null",
    stderr: "null",
  }).output();
  return result.code;
}

Deno.test("the Dockerfile keeps the contract", async (t) => {
  await t.step("pinned deno image matching the Makefile's version, non-root, both ports", () => {
    const version = /^DENO_VERSION := (\S+)$/m.exec(makefile)![1];
    assert.match(
      dockerfile,
      new RegExp(`^FROM denoland/deno:[a-z-]*${version.replaceAll(".", "\\.")}$`, "m"),
    );
    assert.match(dockerfile, /^USER deno$/m);
    assert.match(dockerfile, /^EXPOSE 3000 3001$/m);
  });

  await t.step(
    "the env defaults are the service's, but the debug port listens on every address",
    () => {
      assert.deepEqual(dockerEnv(), {
        API_PORT: "3000",
        DEBUG_PORT: "3001",
        SHUTDOWN_TIMEOUT_SEC: "20",
        ENVIRONMENT: "development",
        DEBUG_HOST: "0.0.0.0",
        DATA_DIR: "/data",
      });
    },
  );

  await t.step(
    "CMD grants only the permissions the configuration needs; writes only /data",
    async () => {
      const script = dockerScript();
      assert.match(
        script,
        /^exec deno run --cached-only --unstable-net --no-prompt \$\(.*\) cmd\/app\/main\.ts$/,
      );
      assert.ok(!/ -A\b|--allow-all/.test(script));
      const app = new URL(".", ROOT).pathname.replace(/\/$/, "");
      const flags = await cmdPermissions(imageEnv());
      const env = flags.find((flag) => flag.startsWith("--allow-env="))!.split("=")[1].split(",");
      assert.deepEqual(flags.filter((flag) => !flag.startsWith("--allow-env=")), [
        `--allow-read=${app}/cmd,${app}/internal,/deno-dir,/data,/tmp/sequencer-api-3000.lock`,
        "--allow-write=/data,/tmp/sequencer-api-3000.lock",
        "--allow-net=0.0.0.0:3000,0.0.0.0:3001",
        "--allow-sys",
      ]);
      for (const name of ["API_PORT", "DATA_DIR", "DATABASE_URL", "AUTH_TOKENS_FILE", "PG*"]) {
        assert.ok(env.includes(name), `${name} in ${env}`);
      }
      // With PostgreSQL, net reaches its host as well, and nothing else.
      const pg = await cmdPermissions({
        ...imageEnv(),
        DATABASE_URL: "postgres://sequencer:secret@db:5432/sequencer",
      });
      assert.ok(pg.includes("--allow-net=0.0.0.0:3000,0.0.0.0:3001,db:5432"), pg.join(" "));
    },
  );

  for (const tls of [false, true]) {
    await t.step(
      `the same command line, run natively${
        tls ? " with TLS files" : ""
      }, serves, passes the HEALTHCHECK and stops on SIGTERM`,
      async () => {
        const data = await Deno.makeTempDir({ prefix: "sequencer-docker-" });
        const certs = tls ? await makeTestCertificates(data) : undefined;
        const tlsEnv: Record<string, string> = certs === undefined
          ? {}
          : { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.keyFile };
        // The image's script run by sh in this checkout (the repository is /app, a temp dir
        // /data), with this deno first on PATH; --cached-only needs a cache filled by `deno cache`.
        const bin = Deno.execPath().replace(/\/[^/]*$/, "");
        const service = await startService({
          ...dockerEnv(),
          ...tlsEnv,
          PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
          DATA_DIR: data,
          // As `docker run -e API_PORT=0 -e DEBUG_PORT=0`: free ports instead of 3000/3001.
          API_PORT: "0",
          DEBUG_PORT: "0",
          WORKERS: "2",
        }, { command: ["sh", "-c", dockerScript().replaceAll(" --cached-only", "")] });
        const client = certs === undefined
          ? undefined
          : Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certs.caFile)] });
        try {
          const port = new URL(service.api).port;
          const api = tls ? `https://localhost:${port}` : service.api;
          const body = await fetch(`${api}/v1/sequence`, { client }).then((r) => r.text());
          assert.equal(body, '{"status":"ok","sequence":{"number":1}}');
          const debugPort = new URL(service.debug).port;
          assert.equal(
            await runHealthCheck(debugPort, tlsEnv),
            0,
            "HEALTHCHECK fails on a live service",
          );
          const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const nobody = String((closed.addr as Deno.NetAddr).port);
          closed.close();
          assert.notEqual(
            await runHealthCheck(nobody, tlsEnv),
            0,
            "HEALTHCHECK passes with nothing there",
          );
          service.kill("SIGTERM");
          const status = await service.status;
          assert.equal(status.code, 0, status.stderr);
        } finally {
          client?.close();
          service.kill("SIGKILL");
          await service.status;
          await Deno.remove(data, { recursive: true });
        }
      },
    );
  }
});
