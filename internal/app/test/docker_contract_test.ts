import assert from "node:assert/strict";

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

/** The HEALTHCHECK's CMD array. */
function healthCmd(): string[] {
  const text = /^HEALTHCHECK .*\\\n\s*CMD (\[.*\])$/m.exec(dockerfile)![1];
  return JSON.parse(text);
}

/** Runs the HEALTHCHECK command natively against `debugPort`; its exit code. */
async function runHealthCheck(debugPort: string): Promise<number> {
  const [program, ...args] = healthCmd();
  assert.equal(program, "deno");
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    env: { DEBUG_PORT: debugPort },
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

  await t.step("the env defaults are the service's defaults", () => {
    assert.deepEqual(dockerEnv(), {
      API_PORT: "3000",
      DEBUG_PORT: "3001",
      SHUTDOWN_TIMEOUT_SEC: "20",
      ENVIRONMENT: "development",
      DATA_DIR: "/data",
    });
  });

  await t.step("CMD grants explicit permissions, never -A, writes only /data", () => {
    const cmd = dockerCmd();
    assert.equal(cmd[0], "run");
    assert.ok(!cmd.includes("-A") && !cmd.includes("--allow-all"));
    assert.ok(cmd.includes("--allow-write=/data"));
    assert.equal(cmd.at(-1), "cmd/app/main.ts");
  });

  await t.step(
    "the same command line, run natively, serves, passes the HEALTHCHECK and stops on SIGTERM",
    async () => {
      const data = await Deno.makeTempDir({ prefix: "sequencer-docker-" });
      const app = new URL(".", ROOT).pathname.replace(/\/$/, "");
      // The image's paths mapped onto this checkout: /app is the repository, /data a temp dir.
      const args = dockerCmd()
        .map((arg) =>
          arg.startsWith("--allow-") ? arg.replace(/\/app\b/g, app).replace(/\/data\b/g, data) : arg
        )
        .filter((arg) => arg !== "--cached-only");
      const child = new Deno.Command(Deno.execPath(), {
        args,
        cwd: ROOT,
        // As `docker run -e API_PORT=0 -e DEBUG_PORT=0`: free ports instead of 3000/3001.
        env: { ...dockerEnv(), DATA_DIR: data, API_PORT: "0", DEBUG_PORT: "0", WORKERS: "2" },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        let port: string | undefined;
        while (port === undefined) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
          port = /"api server listening","address":"[^"]*:(\d+)"/.exec(text)?.[1];
        }
        assert.ok(port, `the service did not start:\n${text}`);
        const body = await fetch(`http://127.0.0.1:${port}/v1/sequence`).then((r) => r.text());
        assert.equal(body, '{"status":"ok","sequence":{"number":1}}');
        const debugPort = /"debug server listening","address":"[^"]*:(\d+)"/.exec(text)?.[1];
        assert.ok(debugPort, `no debug address in the log:\n${text}`);
        assert.equal(await runHealthCheck(debugPort), 0, "HEALTHCHECK fails on a live service");
        const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const nobody = String((closed.addr as Deno.NetAddr).port);
        closed.close();
        assert.notEqual(await runHealthCheck(nobody), 0, "HEALTHCHECK passes with nothing there");
        child.kill("SIGTERM");
        const rest = reader.read().then(async function drain(r): Promise<void> {
          if (!r.done) return drain(await reader.read());
        });
        assert.equal((await child.status).code, 0);
        await rest;
        await child.stderr.cancel();
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
        await Deno.remove(data, { recursive: true });
      }
    },
  );
});
