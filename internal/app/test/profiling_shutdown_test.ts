/**
 * SIGTERM while a profile or trace runs: the service stops the capture, answers its client with
 * what was captured (or a JSON 503), refuses new captures, and exits 0 well within the default
 * `SHUTDOWN_TIMEOUT_SEC` (before, it waited the whole 20 s for the capture and exited 1).
 */
import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../launch/service.ts";
import { decodePprofGzip } from "../../profiling/pprof_convert.ts";
import type { TraceDocument } from "../../profiling/trace.ts";

type Entry = Record<string, unknown> & { msg: string };

/** The service's log entries so far. */
function entries(service: ServiceProcess): Entry[] {
  return service.lines.map((line) => JSON.parse(line));
}

/** Polls the log, to a generous deadline, for an entry `match` accepts. */
async function waitForLog(
  service: ServiceProcess,
  match: (entry: Entry) => boolean,
  what: string,
): Promise<Entry> {
  const deadline = performance.now() + 60_000;
  let exited = false;
  service.status.then(() => (exited = true));
  for (;;) {
    const found = entries(service).find(match);
    if (found !== undefined) return found;
    if (exited || performance.now() > deadline) {
      throw new Error(`no log line ${what}; got:\n${service.lines.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An error answer's status and JSON body (which must name its code). */
async function errorOf(res: Response): Promise<{ status: number; code: string; error: string }> {
  assert.equal(res.headers.get("content-type"), "application/json");
  const body = await res.json();
  assert.equal(body.status, "error");
  return { status: res.status, code: body.code, error: body.error };
}

/**
 * What a client gets from a capture the shutdown ended: a 200 with a valid profile or trace, or a
 * JSON 503. Returns which.
 */
async function checkAnswer(capture: "profile" | "trace", res: Response): Promise<string> {
  if (res.status === 503) {
    const body = await errorOf(res);
    assert.equal(body.code, "unavailable");
    return `503 ${body.error}`;
  }
  assert.equal(res.status, 200, `status ${res.status}: ${await res.clone().text()}`);
  if (capture === "profile") {
    const profile = await decodePprofGzip(new Uint8Array(await res.arrayBuffer()));
    const s = profile.stringTable.strings;
    assert.deepEqual(profile.sampleType.map((v) => s[Number(v.type)]), ["samples", "cpu"]);
    assert.ok(Number(profile.durationNanos) < 60e9, "the profile ended before its 60 s");
    return `200 profile of ${profile.sample.length} samples`;
  }
  const doc: TraceDocument = await res.json();
  assert.ok(Array.isArray(doc.traceEvents));
  assert.ok(doc.otherData.stoppedAtUs - doc.otherData.startedAtUs < 60e6, "ended before 60 s");
  return `200 trace of ${doc.otherData.recordedEvents} events`;
}

/** A log that says the shutdown was graceful, and nothing that says it timed out. */
function assertGraceful(service: ServiceProcess): void {
  const log = entries(service);
  const complete = log.find((e) => e.msg === "shutdown complete");
  assert.ok(complete, `no "shutdown complete" line:\n${service.lines.join("\n")}`);
  assert.equal(complete.outcome, "graceful");
  assert.ok(!log.some((e) => e.msg.startsWith("shutdown timed out")));
}

/**
 * A `PUT` on the API that the server has started to read (it answered `100 Continue`) and that
 * waits for its body: it keeps the API draining, and so the debug server up, after SIGTERM.
 */
async function heldRequest(api: string): Promise<{ release(): Promise<string> }> {
  const { hostname, port } = new URL(api);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const body = '{"start":5}';
  await conn.write(new TextEncoder().encode(
    "PUT /v1/sequences/held HTTP/1.1\r\nHost: sequencer.test\r\n" +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
      "Expect: 100-continue\r\n\r\n",
  ));
  const buffer = new Uint8Array(4096);
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`connection closed before 100 Continue: ${head}`);
    head += new TextDecoder().decode(buffer.subarray(0, n));
  }
  assert.match(head, /^HTTP\/1\.1 100 Continue\r\n/);
  return {
    async release() {
      await conn.write(new TextEncoder().encode(body));
      let answer = "";
      try {
        while (!/\r\n\r\n[\s\S]*\}$/.test(answer)) {
          const n = await conn.read(buffer);
          if (n === null) break;
          answer += new TextDecoder().decode(buffer.subarray(0, n));
        }
      } finally {
        conn.close();
      }
      return answer;
    },
  };
}

async function withService(
  workers: number,
  use: (service: ServiceProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-shutdown-" });
  const service = await startService({ DATA_DIR: dir, WORKERS: String(workers) });
  try {
    await use(service);
  } finally {
    service.kill("SIGKILL"); // a no-op once it has exited
    await service.status;
    await Deno.remove(dir, { recursive: true });
  }
}

const STARTED = { profile: "cpu profile started", trace: "trace started" } as const;

for (const workers of [1, 2]) {
  Deno.test(`WORKERS=${workers}: SIGTERM during a 60 s capture ends it and exits 0`, async (t) => {
    for (const capture of ["profile", "trace"] as const) {
      await t.step(`/debug/pprof/${capture}?seconds=60`, async () => {
        await withService(workers, async (service) => {
          const answer = fetch(`${service.debug}/debug/pprof/${capture}?seconds=60`);
          await waitForLog(service, (e) => e.msg === STARTED[capture], STARTED[capture]);
          const second = await errorOf(await fetch(`${service.debug}/debug/pprof/trace`));
          assert.equal(second.status, 409, "the first capture runs");
          assert.equal(second.code, "conflict");

          service.kill("SIGTERM");
          const got = await checkAnswer(capture, await answer);
          const status = await service.status;
          assert.equal(status.code, 0, `${got}; stderr: ${status.stderr}`);
          assertGraceful(service);
        });
      });
    }

    await t.step("a capture asked for after shutdown began gets a JSON 503", async () => {
      await withService(workers, async (service) => {
        const answer = fetch(`${service.debug}/debug/pprof/profile?seconds=60`);
        await waitForLog(service, (e) => e.msg === STARTED.profile, STARTED.profile);
        const held = await heldRequest(service.api);

        service.kill("SIGTERM");
        await waitForLog(service, (e) => e.msg === "shutting down", `"shutting down"`);
        for (const name of ["profile", "heap", "trace"]) {
          const res = await fetch(`${service.debug}/debug/pprof/${name}?seconds=1`);
          assert.equal(res.headers.get("retry-after"), "1");
          const body = await errorOf(res);
          assert.equal(body.status, 503, name);
          assert.equal(body.code, "unavailable");
          assert.match(body.error, /shutting down/);
        }
        await checkAnswer("profile", await answer);
        // The request that kept the API draining completes, and the drain ends.
        assert.match(await held.release(), /^HTTP\/1\.1 201 /);
        const status = await service.status;
        assert.equal(status.code, 0, status.stderr);
        assertGraceful(service);
      });
    });
  });
}
