/**
 * HTTPS on both ports with `TLS_CERT_FILE` and `TLS_KEY_FILE`, on a real process started with the
 * flags of `deno task run`: clients that trust the test CA get numbers and probes; plain HTTP to a
 * TLS port fails without harming the server; files that cannot serve stop the startup with one
 * line naming them.
 */
import assert from "node:assert/strict";
import { makeTestCertificates, type TestCertificates } from "../../launch/certificates.ts";
import { runToExit, startService } from "../../launch/service.ts";

/** `curl` with `args`: exit code, body and error text. */
async function curl(args: string[]): Promise<{ code: number; body: string; error: string }> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "60", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, body: text(output.stdout), error: text(output.stderr) };
}

/** The port of a `http://127.0.0.1:<port>` address. */
const portOf = (address: string) => new URL(address).port;

Deno.test("TLS: both ports serve HTTPS to clients that trust the CA", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-tls-" });
  let certs: TestCertificates;
  try {
    certs = await makeTestCertificates(dir);
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const service = await startService({
    DATA_DIR: dir,
    WORKERS: "2",
    TLS_CERT_FILE: certs.certFile,
    TLS_KEY_FILE: certs.keyFile,
  });
  const api = `https://localhost:${portOf(service.api)}`;
  const debug = `https://127.0.0.1:${portOf(service.debug)}`;
  try {
    await t.step("the listening lines say https", async () => {
      for (const msg of ["api server listening", "debug server listening"]) {
        const entry = await service.waitForLog((e) => e.msg === msg);
        assert.equal(entry.scheme, "https");
      }
    });

    await t.step(
      "curl --cacert gets numbers from the API and answers from the debug port",
      async () => {
        for (let i = 1; i <= 3; i++) {
          const res = await curl(["--cacert", certs.caFile, `${api}/v1/sequence`]);
          assert.equal(res.code, 0, res.error);
          assert.equal(res.body, `{"status":"ok","sequence":{"number":${i}}}`);
        }
        const ready = await curl(["--cacert", certs.caFile, `${debug}/debug/readiness`]);
        assert.equal(ready.code, 0, ready.error);
        assert.equal(ready.body, '{"status":"ok"}');
        const metrics = await curl(["--cacert", certs.caFile, `${debug}/debug/metrics`]);
        assert.match(metrics.body, /^sequencer_numbers_total\{sequence="default"\} 3$/m);
      },
    );

    await t.step("a client that does not trust the CA is refused by its own check", async () => {
      const res = await curl([`${api}/v1/sequence`]);
      assert.notEqual(res.code, 0);
      assert.match(res.error, /certificate/i);
    });

    await t.step("Deno's fetch with the CA gets numbers over HTTP/2 and HTTP/1.1", async () => {
      const caCerts = [await Deno.readTextFile(certs.caFile)];
      for (const http2 of [true, false]) {
        const client = Deno.createHttpClient({ caCerts, http2, http1: !http2 });
        try {
          const res = await fetch(`${api}/v1/sequence?count=10`, { client });
          assert.equal(res.status, 200);
          assert.match(await res.text(), /"count":10/);
        } finally {
          client.close();
        }
      }
    });

    await t.step(
      "plain HTTP to a TLS port fails cleanly and the server keeps serving",
      async () => {
        for (const port of [portOf(service.api), portOf(service.debug)]) {
          const plain = await curl([`http://127.0.0.1:${port}/v1/sequence`]);
          assert.notEqual(plain.code, 0, `plain HTTP got an answer: ${plain.body}`);
          // Garbage and a connection closed at once, too.
          const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
          await conn.write(new TextEncoder().encode("\x16\x03\x01\x00\x05hello"));
          conn.close();
          (await Deno.connect({ hostname: "127.0.0.1", port: Number(port) })).close();
        }
        for (let i = 0; i < 10; i++) {
          const res = await curl(["--cacert", certs.caFile, `${api}/v1/sequence`]);
          assert.equal(res.code, 0, res.error);
        }
        const ready = await curl(["--cacert", certs.caFile, `${debug}/debug/readiness`]);
        assert.equal(ready.body, '{"status":"ok"}');
        const failures = service.lines.filter((line) => line.includes('"level":"error"'));
        assert.deepEqual(failures, [], "a failed handshake is not a server error");
      },
    );

    await t.step("SIGTERM stops it gracefully", async () => {
      service.kill("SIGTERM");
      const status = await service.status;
      assert.equal(status.code, 0, status.stderr);
      assert.equal(status.stderr, "", "nothing on stderr, not even for the failed handshakes");
    });
  } finally {
    service.kill("SIGKILL");
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TLS files that cannot serve stop the startup with one line naming them", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-tls-bad-" });
  try {
    const certs = await makeTestCertificates(dir);
    await Deno.writeTextFile(`${dir}/garbage.pem`, "not a certificate\n");
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        "only the certificate",
        { TLS_CERT_FILE: certs.certFile },
        /TLS_CERT_FILE is set but TLS_KEY_FILE is not/,
      ],
      [
        "a certificate file that does not exist",
        { TLS_CERT_FILE: `${dir}/missing.crt`, TLS_KEY_FILE: certs.keyFile },
        new RegExp(`TLS_CERT_FILE=${dir}/missing.crt cannot be read`),
      ],
      [
        "a file that is not a certificate",
        { TLS_CERT_FILE: `${dir}/garbage.pem`, TLS_KEY_FILE: certs.keyFile },
        new RegExp(`TLS_CERT_FILE=${dir}/garbage.pem is not a PEM certificate chain`),
      ],
      [
        "the certificate as its own key",
        { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.certFile },
        new RegExp(`TLS_KEY_FILE=${certs.certFile} is not a PEM private key`),
      ],
      [
        "a key of another pair",
        { TLS_CERT_FILE: certs.certFile, TLS_KEY_FILE: certs.otherKeyFile },
        new RegExp(
          `TLS_CERT_FILE=${certs.certFile} and TLS_KEY_FILE=${certs.otherKeyFile} cannot serve HTTPS`,
        ),
      ],
    ];
    for (const [what, env, message] of cases) {
      await t.step(`${what}: exit 1, one line, nothing listens`, async () => {
        const result = await runToExit({ DATA_DIR: dir, API_PORT: "0", DEBUG_PORT: "0", ...env });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.ok(!result.stdout.includes("listening"), result.stdout);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
