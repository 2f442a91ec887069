import assert from "node:assert/strict";
import { eventually } from "../../launch/eventually.ts";
import { makeTestCertificates } from "../../launch/certificates.ts";
import { silentLogger } from "../../log/log.ts";
import { type ConnectionLimits, DEFAULT_LIMITS, startServer } from "../serve.ts";

/** Polls until `probe` holds (see `eventually`). */
const until = (what: string, probe: () => boolean) => eventually(what, probe);

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

function serve(limits: ConnectionLimits = DEFAULT_LIMITS, tls?: { cert: string; key: string }) {
  return startServer({
    port: 0,
    hostname: "127.0.0.1",
    tls,
    handler: () => new Response("answered"),
    logger: silentLogger,
    name: "test server",
    limits,
  });
}

/** Resolves with `promise`, or fails the test when it has not settled within a generous limit. */
async function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within 60 s`)), 60_000);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
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

Deno.test("TLS: clients that never finish their handshake keep their place under the cap", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-serve-tls-" });
  try {
    const certs = await makeTestCertificates(dir);
    const tls = {
      cert: await Deno.readTextFile(certs.certFile),
      key: await Deno.readTextFile(certs.keyFile),
    };
    const caCerts = [await Deno.readTextFile(certs.caFile)];
    const server = serve({ ...DEFAULT_LIMITS, maxConnections: 2, headerTimeoutMs: 300 }, tls);
    const connect = () => Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await t.step(
        "two silent clients fill the cap; a newcomer is served once one goes",
        async () => {
          const silent = [await connect(), await connect()];
          try {
            await until("both are counted as open", () => server.stats().open === 2);
            // Connected (in the kernel's backlog) before a place frees.
            const newcomer = await connect();
            silent[0].close();
            const answer = (async () => {
              const tls = await Deno.startTls(newcomer, { caCerts, hostname: "localhost" });
              try {
                await tls.write(REQUEST);
                return await readAll(tls);
              } finally {
                tls.close();
              }
            })();
            const text = await within("the newcomer's answer", answer);
            assert.match(text, /^HTTP\/1\.1 200 /, text);
            assert.ok(text.endsWith("answered"), text);
            assert.equal(
              server.stats().refused,
              0,
              "a full TLS listener waits; it does not refuse",
            );
          } finally {
            for (const conn of silent) {
              try {
                conn.close();
              } catch { /* closed above */ }
            }
          }
          await until("the silent clients' places are free", () => server.stats().open === 0);
        },
      );

      await t.step("clients that trust the CA are served, over HTTP/2 and HTTP/1.1", async () => {
        for (const http2 of [true, false]) {
          const client = Deno.createHttpClient({ caCerts, http2, http1: !http2 });
          try {
            const res = await fetch(`https://localhost:${server.port}/`, { client });
            assert.equal(await res.text(), "answered");
          } finally {
            client.close();
          }
        }
      });
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
