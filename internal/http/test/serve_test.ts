import assert from "node:assert/strict";
import { silentLogger } from "../../log/log.ts";
import { type ConnectionLimits, DEFAULT_LIMITS, startServer } from "../serve.ts";

/** Polls `probe` until it is true; fails after a generous deadline. */
async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!probe()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Everything the server sends on `conn` until it closes the connection. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
  } catch { /* reset by the server */ }
  return text;
}

function serve(limits: ConnectionLimits = DEFAULT_LIMITS) {
  return startServer({
    port: 0,
    hostname: "127.0.0.1",
    handler: () => new Response("answered"),
    logger: silentLogger,
    name: "test server",
    limits,
  });
}

const REQUEST = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

Deno.test("a graceful shutdown and the connections it finds open", async (t) => {
  await t.step("one accepted just before, whose request comes after, is answered", async () => {
    const server = serve();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await until("the server has accepted the connection", () => server.stats().open === 1);
      const stopping = server.shutdown();
      await conn.write(REQUEST);
      const answer = await readAll(conn);
      assert.match(answer, /^HTTP\/1\.1 200 /, answer);
      assert.ok(answer.endsWith("answered"), answer);
      await stopping;
      assert.equal(server.stats().open, 0);
    } finally {
      conn.close();
    }
  });

  await t.step("one that never sends a request is closed once its grace is over", async () => {
    const server = serve({ ...DEFAULT_LIMITS, headerTimeoutMs: 200 });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await until("the server has accepted the connection", () => server.stats().open === 1);
      await server.shutdown();
      assert.equal(server.stats().open, 0);
      assert.equal(await readAll(conn), "");
    } finally {
      conn.close();
    }
  });

  await t.step("an idle keep-alive connection that was answered before is closed", async () => {
    const server = serve();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      assert.match(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 /);
      await server.shutdown();
      assert.equal(server.stats().open, 0);
      assert.equal(await readAll(conn), "");
    } finally {
      conn.close();
    }
  });
});
