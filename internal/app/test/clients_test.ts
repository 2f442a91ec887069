import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../launch/service.ts";

const encoder = new TextEncoder();

/** Polls `probe` until it returns a value; fails after a generous deadline. */
async function poll<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** A raw TCP client: write bytes, read until the server closes the connection. */
async function connect(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let received = "";
  let closed = false;
  const reading = (async () => {
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        received += decoder.decode(buffer.subarray(0, n));
      }
    } catch { /* reset by the server */ }
    closed = true;
  })();
  return {
    /** Writes `text`; false once the server has closed the connection. */
    async write(text: string): Promise<boolean> {
      try {
        await conn.write(encoder.encode(text));
        return true;
      } catch {
        return false;
      }
    },
    received: () => received,
    closed: () => closed,
    async close() {
      try {
        conn.close();
      } catch { /* already closed */ }
      await reading;
    },
  };
}

async function withService(
  env: Record<string, string>,
  fn: (service: ServiceProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-clients-" });
  const service = await startService({ DATA_DIR: dir, WORKERS: "2", ...env });
  try {
    await fn(service);
  } finally {
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Distinct numbers from `count` sequential requests of a well-behaved client. */
async function normalClient(api: string, count: number): Promise<number[]> {
  const numbers: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${api}/v1/sequence`);
    assert.equal(res.status, 200);
    numbers.push((await res.json()).sequence.number);
  }
  return numbers;
}

Deno.test("slow and idle clients are closed by the server within the documented limits", async (t) => {
  await withService({
    HTTP_HEADER_TIMEOUT_SEC: "2",
    HTTP_IDLE_TIMEOUT_SEC: "3",
    HTTP_BODY_TIMEOUT_SEC: "2",
  }, async (service) => {
    const port = portOf(service.api);

    await t.step(
      "headers trickled one byte at a time: closed, the request never served",
      async () => {
        const client = await connect(port);
        const request = "GET /v1/sequence HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(600);
        let sent = 0;
        // At most 600 bytes 100 ms apart (a minute): the 2 s limit must close it long before.
        while (sent < request.length && !client.closed()) {
          if (!(await client.write(request[sent]))) break;
          sent++;
          await new Promise((r) => setTimeout(r, 100));
        }
        await poll("the server closes the connection", () => client.closed() || undefined);
        assert.ok(sent < request.length, "the whole trickle was accepted");
        assert.equal(client.received(), "", "the trickled request was answered");
        await client.close();
      },
    );

    await t.step(
      "a body that never completes: a JSON 408, then the connection is closed",
      async () => {
        const client = await connect(port);
        await client.write(
          'PUT /v1/sequences/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"start":',
        );
        await poll("the server answers and closes", () => client.closed() || undefined);
        const answer = client.received();
        assert.match(answer, /^HTTP\/1\.1 408 /, answer);
        const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
        assert.equal(body.code, "request_timeout");
        assert.match(body.error, /request body did not arrive within 2 s/);
        await client.close();
        const missing = await fetch(`${service.api}/v1/sequences/slow`);
        assert.equal(missing.status, 404, "the half-sent create was applied");
        await missing.body?.cancel();
      },
    );

    await t.step("an idle keep-alive connection is closed after the idle limit", async () => {
      const client = await connect(port);
      await client.write("GET /v1/sequence HTTP/1.1\r\nHost: x\r\n\r\n");
      await poll(
        "the request is answered",
        () => client.received().includes('"number"') || undefined,
      );
      assert.equal(client.closed(), false, "closed right after answering");
      await poll("the idle connection is closed", () => client.closed() || undefined);
      await client.close();
    });

    await t.step(
      "2,000 half-sent requests are all closed while a normal client is served",
      async () => {
        const attackers = await Promise.all(Array.from({ length: 2000 }, async () => {
          const client = await connect(port);
          await client.write("GET /v1/sequence HTTP/1.1\r\nHost: x\r\n");
          return client;
        }));
        const served = await normalClient(service.api, 200);
        assert.equal(new Set(served).size, 200);
        await poll(
          "every half-sent request is closed",
          () => attackers.every((a) => a.closed()) || undefined,
        );
        assert.ok(
          attackers.every((a) => a.received() === ""),
          "a half-sent request was answered",
        );
        await Promise.all(attackers.map((a) => a.close()));
        const after = await normalClient(service.api, 20);
        assert.ok(Math.min(...after) > Math.max(...served), "numbers went backwards");
      },
    );
  });
});

Deno.test("above HTTP_MAX_CONNECTIONS new connections are refused, not crashed, and service goes on", async () => {
  await withService(
    { HTTP_MAX_CONNECTIONS: "60", HTTP_HEADER_TIMEOUT_SEC: "3600" },
    async (service) => {
      const port = portOf(service.api);
      const idle: Awaited<ReturnType<typeof connect>>[] = [];
      for (let i = 0; i < 100; i++) idle.push(await connect(port));
      // Two workers hold at most 30 each: at least 40 of the 100 are closed by the server at once.
      const refused = await poll("the connections above the cap are closed", () => {
        const closed = idle.filter((c) => c.closed()).length;
        return closed >= 40 ? closed : undefined;
      });
      assert.ok(refused <= 100);
      for (const client of idle) await client.close();
      const served = await poll("a normal client is served again", async () => {
        try {
          return await normalClient(service.api, 10);
        } catch {
          return undefined;
        }
      });
      assert.equal(new Set(served).size, 10);
      const ready = await fetch(`${service.debug}/debug/readiness`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
    },
  );
});

for (const workers of ["1", "2"]) {
  Deno.test(`WORKERS=${workers}: out of file descriptors, the API stops accepting, then comes back by itself`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-emfile-" });
    const service = await startService(
      { DATA_DIR: dir, WORKERS: workers, HTTP_HEADER_TIMEOUT_SEC: "3600" },
      { prefix: ["prlimit", "--nofile=256:256", "--"] },
    );
    const held: Awaited<ReturnType<typeof connect>>[] = [];
    try {
      await t.step("idle connections exhaust the process's descriptors", async () => {
        for (let i = 0; i < 400; i++) {
          try {
            held.push(await connect(portOf(service.api)));
          } catch {
            break; // the backlog is full too
          }
        }
        await service.waitForLog((e) => /cannot accept connections/.test(e.msg));
      });

      await t.step("the descriptors come free: the same process answers again", async () => {
        await Promise.all(held.splice(0).map((c) => c.close()));
        const numbers = await poll("the API answers again", async () => {
          try {
            return await normalClient(service.api, 5);
          } catch {
            return undefined;
          }
        });
        assert.equal(new Set(numbers).size, 5);
        await poll("readiness is 200 again", async () => {
          const res = await fetch(`${service.debug}/debug/readiness`).catch(() => undefined);
          await res?.body?.cancel();
          return res?.status === 200 || undefined;
        });
        assert.ok(service.lines.some((l) => l.includes("accepting connections again")));
      });

      await t.step("the process never exited and stops gracefully", async () => {
        service.kill("SIGTERM");
        assert.equal((await service.status).code, 0);
      });
    } finally {
      await Promise.all(held.map((c) => c.close()));
      service.kill("SIGKILL");
      await service.status;
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("SIGTERM while a request body is still arriving: the request completes, exit 0", async () => {
  await withService({}, async (service) => {
    const client = await connect(portOf(service.api));
    const body = '{"start": 42}';
    await client.write(
      `PUT /v1/sequences/late HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 5),
    );
    await poll("the request is in flight", async () => {
      const text = await fetch(`${service.debug}/debug/metrics`).then((r) => r.text());
      return /^sequencer_http_requests_in_flight 1$/m.test(text) || undefined;
    });
    service.kill("SIGTERM");
    await service.waitForLog((e) => e.msg === "shutting down");
    await client.write(body.slice(5));
    await poll(
      "the answer arrives",
      () => client.received().includes("\r\n\r\n{") && client.received().endsWith("}") || undefined,
    );
    const answer = client.received();
    assert.match(answer, /^HTTP\/1\.1 201 /, answer);
    assert.equal(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).sequence.start, 42);
    await client.close();
    assert.equal((await service.status).code, 0);
    assert.ok(service.lines.some((l) => l.includes('"outcome":"graceful"')));
  });
});

Deno.test("a request still in flight past SHUTDOWN_TIMEOUT_SEC: exit 1 with a timeout log", async () => {
  await withService(
    { SHUTDOWN_TIMEOUT_SEC: "1", HTTP_BODY_TIMEOUT_SEC: "3600" },
    async (service) => {
      const client = await connect(portOf(service.api));
      await client.write(
        "PUT /v1/sequences/never HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{",
      );
      await poll("the request is in flight", async () => {
        const text = await fetch(`${service.debug}/debug/metrics`).then((r) => r.text());
        return /^sequencer_http_requests_in_flight 1$/m.test(text) || undefined;
      });
      service.kill("SIGTERM");
      const { code } = await service.status;
      assert.equal(code, 1);
      assert.ok(service.lines.some((l) => l.includes("shutdown timed out")));
      await client.close();
    },
  );
});
