import assert from "node:assert/strict";
import { spawnService, startService } from "../../launch/service.ts";
import { freePort } from "../../launch/ports.ts";

/** Polls `probe` until it returns a value; fails after a generous deadline. */
async function poll<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The status of `url`, or `undefined` when nothing answers. */
async function statusOf(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}

/** Sends `request` as raw bytes and returns everything the server sent until it closed. */
async function raw(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  let text = "";
  for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (/\r\n\r\n[\s\S]*\}$/.test(text)) break;
  }
  try {
    conn.close();
  } catch { /* the stream closed it */ }
  return text;
}

Deno.test("readiness turns 200 only once the API port answers", async (t) => {
  for (const workers of ["4", "2"]) {
    await t.step(
      `WORKERS=${workers}: the first 200 of readiness finds the API listening`,
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "sequencer-ready-" });
        const apiPort = freePort();
        const debugPort = freePort();
        const service = await spawnService({
          DATA_DIR: dir,
          WORKERS: workers,
          API_PORT: String(apiPort),
          DEBUG_PORT: String(debugPort),
        });
        try {
          const readiness = `http://127.0.0.1:${debugPort}/debug/readiness`;
          await poll(
            "readiness answers 200",
            async () => (await statusOf(readiness)) === 200 ? true : undefined,
          );
          // No delay between the first 200 and this connection.
          const conn = await Deno.connect({ hostname: "127.0.0.1", port: apiPort });
          conn.close();
          const res = await fetch(`http://127.0.0.1:${apiPort}/v1/sequence`);
          assert.equal(res.status, 200);
          assert.equal(await res.text(), '{"status":"ok","sequence":{"number":1}}');
        } finally {
          service.kill("SIGKILL");
          await service.status;
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  }
});

Deno.test("an API worker that crashes during a profile: the capture answers 503, its flag is freed, the worker is replaced", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-crash-worker-" });
  const service = await startService({
    DATA_DIR: dir,
    WORKERS: "2",
    SEQUENCER_FAILPOINT: "api-worker-crash-on-capture",
  });
  try {
    const before = await fetch(`${service.api}/v1/sequence`).then((r) => r.json());
    assert.equal(before.sequence.number, 1);

    await t.step("the profile request is answered with JSON 503, not left hanging", async () => {
      const res = await fetch(`${service.debug}/debug/pprof/profile?seconds=60`, {
        signal: AbortSignal.timeout(120_000),
      });
      assert.equal(res.status, 503);
      const body = await res.json();
      assert.equal(body.code, "unavailable");
      assert.match(body.error, /api-worker-\d stopped/);
    });

    await t.step("the CPU flag is free: a trace runs (it is not 409)", async () => {
      const res = await fetch(`${service.debug}/debug/pprof/trace?seconds=1`);
      assert.equal(res.status, 200, await res.clone().text());
      assert.ok(Array.isArray((await res.json()).traceEvents));
    });

    await t.step(
      "the crashed workers are replaced: readiness is 200 again and numbers go on",
      async () => {
        await service.waitForLog((e) => e.msg === "API worker replaced");
        await poll(
          "readiness is 200 again",
          async () =>
            (await statusOf(`${service.debug}/debug/readiness`)) === 200 ? true : undefined,
        );
        const live = await fetch(`${service.debug}/debug/liveness`).then((r) => r.json());
        assert.deepEqual(live.api, { workers: 2, listening: 2 });
        const seen = new Set<number>([1]);
        for (let i = 0; i < 50; i++) {
          const body = await fetch(`${service.api}/v1/sequence`).then((r) => r.json());
          assert.ok(!seen.has(body.sequence.number), `${body.sequence.number} answered twice`);
          seen.add(body.sequence.number);
        }
        assert.ok(service.lines.some((l) => l.includes('"msg":"API worker crashed"')));
      },
    );

    await t.step("the process stays up and stops gracefully", async () => {
      service.kill("SIGTERM");
      assert.equal((await service.status).code, 0);
    });
  } finally {
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Host header that is not a host gets a JSON 400 and no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-host-" });
  const service = await startService({ DATA_DIR: dir, WORKERS: "2" });
  try {
    const port = Number(new URL(service.api).port);
    for (let i = 0; i < 5; i++) {
      const answer = await raw(port, "GET /v1/sequence HTTP/1.1\r\nHost: [\r\n\r\n");
      assert.match(answer, /^HTTP\/1\.1 400 /, answer);
      assert.match(answer, /content-type: application\/json/i);
      const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
      assert.equal(body.code, "invalid");
      assert.match(body.error, /Host header is invalid/);
    }
    const ok = await fetch(`${service.api}/v1/sequence`).then((r) => r.json());
    assert.equal(ok.sequence.number, 1, "a bad Host consumed no number");
    service.kill("SIGTERM");
    const { code, stderr } = await service.status;
    assert.equal(code, 0);
    assert.equal(stderr, "", "something was printed to stderr");
    assert.ok(
      service.lines.length < 12,
      `a log line per bad request:\n${service.lines.join("\n")}`,
    );
  } finally {
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
});
