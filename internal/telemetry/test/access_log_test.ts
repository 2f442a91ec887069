import assert from "node:assert/strict";
import { startService } from "../../launch/service.ts";
import {
  describeTarget,
  type LineSink,
  LOG_PATH_MAX,
  logRequests,
  stdoutLines,
} from "../access_log.ts";

/** A sink that keeps the lines it is given, parsed, without their time. */
function recording(): { sink: LineSink; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = {
    push: (line: string) => {
      const { time: _time, ...rest } = JSON.parse(line);
      lines.push(rest);
    },
    flush: () => {},
  };
  return { sink, lines };
}

Deno.test("the access log's line: bounded fields, the sequence and count, never a header", async (t) => {
  await t.step("the sequence the path names, and the count asked for", () => {
    assert.deepEqual(describeTarget("http://h/v1/sequence?count=5&numbers=string"), {
      path: "/v1/sequence",
      sequence: "default",
      count: 5,
    });
    assert.deepEqual(describeTarget("http://h/v1/sequence/orders%2D1"), {
      path: "/v1/sequence/orders%2D1",
      sequence: "orders-1",
    });
    assert.deepEqual(describeTarget("http://h/v1/sequences/inv"), {
      path: "/v1/sequences/inv",
      sequence: "inv",
    });
    assert.deepEqual(describeTarget("http://h/debug/metrics"), { path: "/debug/metrics" });
    assert.deepEqual(describeTarget("http://h/v1/sequence?count=0x10"), {
      path: "/v1/sequence",
      sequence: "default",
      count: "0x10",
    });
  });

  await t.step("long paths, names and counts are cut", () => {
    const long = "a".repeat(10_000);
    const got = describeTarget(`http://h/v1/sequence/${long}?count=${"9".repeat(100)}`);
    assert.equal(got.path.length, LOG_PATH_MAX + 1);
    assert.ok(got.path.endsWith("…"));
    assert.equal(got.sequence, "a".repeat(64) + "…");
    assert.equal(got.count, "9".repeat(20) + "…");
  });

  await t.step("one line per request: status, duration; a throwing handler is a 500", async () => {
    const { sink, lines } = recording();
    let clock = 0;
    const now = () => (clock += 1.5);
    const sync = logRequests(() => new Response("x", { status: 201 }), { sink, now });
    await (await sync(new Request("http://h/v1/sequences/a", { method: "PUT" }))).text();
    const later = logRequests(() => Promise.resolve(new Response(null, { status: 404 })), {
      sink,
      now,
    });
    await later(new Request("http://h/nope"));
    const throwing = logRequests(() => {
      throw new Error("boom");
    }, { sink, now });
    assert.throws(() => throwing(new Request("http://h/v1/sequence")), /boom/);
    const line = { level: "info", msg: "request", method: "GET", ms: 1.5 };
    assert.deepEqual(lines, [
      { ...line, method: "PUT", path: "/v1/sequences/a", sequence: "a", status: 201 },
      { ...line, path: "/nope", status: 404 },
      { ...line, path: "/v1/sequence", sequence: "default", status: 500 },
    ]);
  });

  await t.step(
    "lines are written in batches: at the size limit, on the timer, on flush",
    async () => {
      const writes: string[] = [];
      const write = (bytes: Uint8Array) => writes.push(new TextDecoder().decode(bytes));
      const sink = stdoutLines({ flushMs: 10, maxChars: 12, write });
      sink.push("first");
      assert.deepEqual(writes, [], "held");
      sink.push("second");
      assert.deepEqual(writes, ["first\nsecond\n"], "12 characters reached");
      sink.push("third");
      const deadline = performance.now() + 30_000;
      while (writes.length < 2 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.deepEqual(writes, ["first\nsecond\n", "third\n"], "written by the timer");
      sink.push("fourth");
      sink.flush();
      sink.flush();
      assert.deepEqual(writes.at(-1), "fourth\n");
      assert.equal(writes.length, 3);
    },
  );
});

Deno.test("LOG_REQUESTS=true: the service writes one JSON line per request, without the token", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-access-log-" });
  const token = "secret-token-that-must-never-be-logged";
  const service = await startService({ DATA_DIR: dir, LOG_REQUESTS: "true" });
  try {
    const headers = { authorization: `Bearer ${token}`, cookie: `c=${token}` };
    const ok = await fetch(`${service.api}/v1/sequence?count=3&t=${token}`, { headers });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const missing = await fetch(`${service.api}/v1/sequence/nope`, { headers });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const first = await service.waitForLog((e) => e.msg === "request" && e.status === 200);
    const second = await service.waitForLog((e) => e.msg === "request" && e.status === 404);
    assert.deepEqual(Object.keys(first), [
      "time",
      "level",
      "msg",
      "method",
      "path",
      "sequence",
      "count",
      "status",
      "ms",
    ]);
    assert.equal(first.path, "/v1/sequence");
    assert.equal(first.sequence, "default");
    assert.equal(first.count, 3);
    assert.equal(typeof first.ms, "number");
    assert.equal(second.sequence, "nope");
  } finally {
    service.kill("SIGTERM");
    const status = await service.status;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, status.stderr);
    const logged = service.lines.join("\n") + status.stderr;
    assert.equal(logged.includes(token), false, "the token appears in the output");
  }
});

Deno.test("LOG_REQUESTS unset: no request line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-access-log-" });
  const service = await startService({ DATA_DIR: dir });
  try {
    await (await fetch(`${service.api}/v1/sequence`)).body?.cancel();
  } finally {
    service.kill("SIGTERM");
    const status = await service.status;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, status.stderr);
    // The shutdown's own lines are written after every request has been answered.
    assert.equal(service.lines.some((line) => line.includes('"msg":"request"')), false);
  }
});
