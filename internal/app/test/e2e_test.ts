import assert from "node:assert/strict";
import { runFlags, runToExit, startService } from "../../launch/service.ts";

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

Deno.test("the service process serves every endpoint and stops on SIGTERM", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-e2e-" });
  const service = await startService({ DATA_DIR: dir, ENVIRONMENT: "e2e" });
  try {
    await t.step("GET /v1/sequence answers the seed's body, starting at 1", async () => {
      const res = await get(`${service.api}/v1/sequence`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(res.text, '{"status":"ok","sequence":{"number":1}}');
    });

    await t.step("unknown paths are 404 and wrong methods 405, both JSON", async () => {
      const missing = await get(`${service.api}/v2/nothing`);
      assert.equal(missing.status, 404);
      assert.equal(JSON.parse(missing.text).status, "error");
      const wrong = await get(`${service.api}/v1/sequence`, { method: "DELETE" });
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get("allow"), "GET");
    });

    await t.step("readiness and liveness answer on the debug port", async () => {
      assert.deepEqual(
        await get(`${service.debug}/debug/readiness`).then((r) => r.text),
        '{"status":"ok"}',
      );
      const live = JSON.parse((await get(`${service.debug}/debug/liveness`)).text);
      assert.equal(live.status, "up");
      assert.equal(live.build, "e2e");
      assert.ok(live.host.length > 0);
    });

    await t.step("/debug/metrics counts the one number answered so far", async () => {
      const res = await get(`${service.debug}/debug/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      for (
        const line of [
          'sequencer_numbers_total{sequence="default"} 1',
          'sequencer_last_number{sequence="default"} 1',
          "sequencer_ready 1",
          "sequencer_store_up 1",
        ]
      ) {
        assert.ok(res.text.split("\n").includes(line), `missing ${line} in:\n${res.text}`);
      }
      assert.match(res.text, /^sequencer_build_info\{environment="e2e",store="sqlite",/m);
    });

    await t.step("the startup log names the effective config and both addresses", () => {
      const entries = service.lines.map((l) => JSON.parse(l));
      const start = entries.find((e) => e.msg === "starting");
      assert.equal(start.config.environment, "e2e");
      assert.equal(start.config.dataDir, dir);
      assert.ok(entries.some((e) => e.msg === "api server listening"));
      assert.ok(entries.every((e) => typeof e.time === "string" && e.level));
    });

    await t.step("SIGTERM exits 0 after logging a graceful shutdown", async () => {
      service.kill("SIGTERM");
      const { code } = await service.status;
      assert.equal(code, 0);
      assert.ok(service.lines.some((l) => l.includes('"outcome":"graceful"')));
    });
  } finally {
    service.kill("SIGKILL");
    await service.status.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid configuration fails fast with one line naming the variable", async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ API_PORT: "abc" }, /API_PORT="abc" is invalid: must be an integer from 0 to 65535/],
    [{ API_PORT: "4100", DEBUG_PORT: "4100" }, /API_PORT=4100 and DEBUG_PORT=4100 .* must differ/],
    [{ SHUTDOWN_TIMEOUT_SEC: "-3" }, /SHUTDOWN_TIMEOUT_SEC="-3" is invalid/],
    [{ ENVIRONMENT: "" }, /ENVIRONMENT="" is invalid: must not be empty/],
  ];
  for (const [env, message] of cases) {
    await t.step(`${JSON.stringify(env)} exits 1 before listening`, async () => {
      const result = await runToExit(env);
      assert.equal(result.code, 1);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.ok(!result.stdout.includes("listening"));
    });
  }

  await t.step("a .env file in the working directory is honoured by deno task run", async () => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-env-" });
    try {
      await Deno.writeTextFile(`${dir}/.env`, "API_PORT=from-dotenv\n");
      const main = new URL("../../../cmd/app/main.ts", import.meta.url).pathname;
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--env-file", ...(await runFlags()), main],
        cwd: dir,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 1);
      assert.match(new TextDecoder().decode(output.stderr), /API_PORT="from-dotenv" is invalid/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a corrupt store is a startup error, never a reset to 1", async () => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-e2e-" });
    try {
      await Deno.writeTextFile(`${dir}/sequencer.db`, "garbage ".repeat(1000));
      const result = await runToExit({ DATA_DIR: dir, API_PORT: "0", DEBUG_PORT: "0" });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /sequencer\.db.*cannot be opened/);
      assert.ok(!result.stdout.includes("api server listening"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

for (const workers of ["1", "2"]) {
  Deno.test(`WORKERS=${workers}: 2,000 requests from 50 concurrent clients give 2,000 distinct numbers; SIGTERM under load exits 0`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-e2e-" });
    const service = await startService({ DATA_DIR: dir, WORKERS: workers });
    try {
      await t.step("2,000 distinct numbers", async () => {
        const numbers: number[] = [];
        await Promise.all(Array.from({ length: 50 }, async () => {
          for (let i = 0; i < 40; i++) {
            const body = await fetch(`${service.api}/v1/sequence`).then((r) => r.json());
            numbers.push(body.sequence.number);
          }
        }));
        assert.equal(numbers.length, 2000);
        assert.equal(new Set(numbers).size, 2000);
      });

      await t.step("SIGTERM while 20 clients are loading exits 0, gracefully", async () => {
        let stop = false;
        let answered = 0;
        const clients = Array.from({ length: 20 }, async () => {
          while (!stop) {
            try {
              const res = await fetch(`${service.api}/v1/sequence`);
              await res.body?.cancel();
              if (res.status === 200) answered++;
            } catch {
              return; // connection refused once the server stopped listening
            }
          }
        });
        // Under load: the clients have been answered 200 times before the signal.
        const deadline = performance.now() + 60_000;
        while (answered < 200) {
          if (performance.now() > deadline) assert.fail(`${answered} answers in 60 s, not 200`);
          await new Promise((r) => setTimeout(r, 5));
        }
        service.kill("SIGTERM");
        const { code } = await service.status;
        stop = true;
        await Promise.all(clients);
        // Exit 0 is the graceful outcome; past SHUTDOWN_TIMEOUT_SEC it would be 1.
        assert.equal(code, 0);
        assert.ok(service.lines.some((l) => l.includes('"outcome":"graceful"')));
      });
    } finally {
      service.kill("SIGKILL");
      await service.status.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("SIGINT stops gracefully with exit code 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-e2e-" });
  try {
    const service = await startService({ DATA_DIR: dir });
    service.kill("SIGINT");
    assert.equal((await service.status).code, 0);
    assert.ok(service.lines.some((l) => l.includes('"reason":"SIGINT"')));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
