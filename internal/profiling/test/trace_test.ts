import assert from "node:assert/strict";
import { type TraceEvent, Tracer, tracer, traceRequest } from "../trace.ts";

function spans(events: TraceEvent[]): TraceEvent[] {
  return events.filter((e) => e.ph === "X");
}

Deno.test("the tracer records nothing while no trace runs", async (t) => {
  const local = new Tracer();

  await t.step(
    "every recording call is a no-op and span/traceRequest still return results",
    async () => {
      assert.equal(local.active, false);
      assert.equal(local.begin(), -1);
      local.end("x", "c", 0);
      local.complete("x", "c", 0, 1);
      local.counter("x", { v: 1 });
      local.instant("x", "c");
      assert.equal(local.span("x", "c", () => 42), 42);
      assert.equal(await local.span("x", "c", () => Promise.resolve(43)), 43);
      assert.equal(tracer.active, false);
      const res = await traceRequest(new Request("http://t/a"), () => new Response("ok"));
      assert.equal(await res.text(), "ok");
    },
  );

  await t.step("a capture started afterwards holds only metadata", () => {
    local.start();
    const doc = local.stop();
    assert.deepEqual(doc.traceEvents.filter((e) => e.ph !== "M"), []);
    assert.equal(doc.otherData.recordedEvents, 0);
  });

  await t.step(
    "a span that began before the capture is not recorded when it ends during it",
    () => {
      const t0 = local.begin();
      local.start();
      local.end("early", "c", t0);
      assert.deepEqual(spans(local.stop().traceEvents), []);
    },
  );
});

Deno.test("the tracer records complete events, counters and instants while a trace runs", async (t) => {
  const local = new Tracer();

  await t.step("span times sync and async work and records errors", async () => {
    local.start();
    assert.equal(local.span("sync", "test", () => 1, { k: "v" }), 1);
    await local.span("async", "test", () => new Promise((r) => setTimeout(r, 5)));
    assert.throws(() =>
      local.span("throws", "test", () => {
        throw new RangeError("bad");
      })
    );
    await assert.rejects(local.span("rejects", "test", () => Promise.reject(new Error("no"))));
    local.counter("queue", { depth: 3 });
    local.instant("config reloaded", "test");
    const doc = local.stop();
    assert.equal(local.active, false);
    const byName = new Map(doc.traceEvents.map((e) => [e.name, e]));
    assert.deepEqual(byName.get("sync")!.args, { k: "v" });
    assert.ok(byName.get("async")!.dur! >= 4_000, "async span lasts until the promise settles");
    assert.equal(byName.get("throws")!.args!.error, "RangeError: bad");
    assert.equal(byName.get("rejects")!.args!.error, "Error: no");
    assert.deepEqual(byName.get("queue")!.args, { depth: 3 });
    assert.equal(byName.get("queue")!.ph, "C");
    assert.equal(byName.get("config reloaded")!.ph, "i");
    for (const e of doc.traceEvents) {
      assert.ok(Number.isFinite(e.ts) && Number.isInteger(e.pid) && Number.isInteger(e.tid));
    }
    assert.ok(
      doc.traceEvents.some((e) => e.ph === "M" && e.name === "process_name"),
      "process name metadata",
    );
  });

  await t.step("begin/end records the time in between, with args", () => {
    local.start();
    const t0 = local.begin();
    assert.ok(t0 >= 0);
    local.end("store commit", "store", t0, { rows: 2 });
    const [e] = spans(local.stop().traceEvents);
    assert.equal(e.name, "store commit");
    assert.equal(e.cat, "store");
    assert.equal(e.ts, t0);
    assert.deepEqual(e.args, { rows: 2 });
  });

  await t.step("nested spans share a lane; overlapping ones get different lanes", () => {
    local.start();
    // recorded in end order, as real spans are
    local.complete("commit", "c", 20, 10); // [20, 30]
    local.complete("reservation", "c", 10, 30); // [10, 40] contains commit
    local.complete("other request", "c", 35, 20); // [35, 55] overlaps reservation
    local.complete("request", "c", 0, 50); // [0, 50] contains reservation, overlaps other
    local.complete("later", "c", 60, 5); // [60, 65] after everything
    const lane = new Map(spans(local.stop().traceEvents).map((e) => [e.name, e.tid]));
    assert.equal(lane.get("commit"), lane.get("reservation"));
    assert.equal(lane.get("reservation"), lane.get("request"));
    assert.notEqual(lane.get("other request"), lane.get("request"));
    assert.equal(lane.get("later"), 1);
  });

  await t.step("events come out in start order, an enclosing span before what it encloses", () => {
    local.start();
    local.complete("inner", "c", 10, 5);
    local.complete("outer", "c", 10, 20);
    local.complete("first", "c", 1, 1);
    assert.deepEqual(spans(local.stop().traceEvents).map((e) => e.name), [
      "first",
      "outer",
      "inner",
    ]);
  });

  await t.step("events past maxEvents are counted as dropped", () => {
    local.start({ maxEvents: 2 });
    for (let i = 0; i < 5; i++) local.counter("n", { i });
    const doc = local.stop();
    assert.equal(doc.traceEvents.filter((e) => e.ph === "C").length, 2);
    assert.equal(doc.otherData.droppedEvents, 3);
  });

  await t.step("starting twice is a programming error", () => {
    local.start();
    assert.throws(() => local.start(), /already running/);
    local.stop();
  });
});

Deno.test("traceRequest records each request with method, path and status", async () => {
  tracer.start();
  try {
    const ok = await traceRequest(
      new Request("http://svc.test/v1/sequence/orders?count=2"),
      () => Promise.resolve(new Response("1", { status: 201 })),
    );
    await ok.body?.cancel();
    const sync = traceRequest(
      new Request("http://svc.test/health", { method: "HEAD" }),
      () => new Response(null, { status: 204 }),
    );
    assert.ok(sync instanceof Response, "a synchronous handler stays synchronous");
    assert.throws(
      () =>
        traceRequest(new Request("http://svc.test/boom"), () => {
          throw new Error("boom");
        }),
      /boom/,
    );
  } catch (error) {
    tracer.stop();
    throw error;
  }
  const events = spans(tracer.stop().traceEvents);
  assert.deepEqual(
    events.map((e) => [e.name, e.cat, e.args]),
    [
      ["GET /v1/sequence/orders", "http", {
        method: "GET",
        path: "/v1/sequence/orders",
        status: 201,
      }],
      ["HEAD /health", "http", { method: "HEAD", path: "/health", status: 204 }],
      ["GET /boom", "http", { method: "GET", path: "/boom", error: "Error: boom" }],
    ],
  );
});
