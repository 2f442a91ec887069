import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  cutText,
  encodeTrace,
  TRACE_ERROR_MAX,
  TRACE_EVENT_JSON_MAX,
  TRACE_LANE_JSON_MAX,
  TRACE_MAX_EVENTS,
  TRACE_MAX_LANES,
  TRACE_METHOD_MAX,
  TRACE_PATH_MAX,
  type TraceDocument,
  type TraceEvent,
  Tracer,
  traceRequests,
  traceShare,
} from "../trace.ts";

function spans(events: TraceEvent[]): TraceEvent[] {
  return events.filter((e) => e.ph === "X");
}

function lanes(doc: TraceDocument): number {
  return doc.traceEvents.filter((e) => e.ph === "M" && /^spans /.test(String(e.args?.name)))
    .length;
}

// A full garbage collection on demand (the inspector's HeapProfiler.collectGarbage hangs on Deno).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap in use after a full collection. */
function heapAfterGc(): number {
  gc();
  return Deno.memoryUsage().heapUsed;
}

const utf8 = (text: string) => new TextEncoder().encode(text).byteLength;

/** Bytes of `value` as JSON, with every number replaced by the longest JSON number there is. */
function worstJsonBytes(value: unknown): number {
  return utf8(
    JSON.stringify(value, (_k, v) => (typeof v === "number" ? -1.7976931348623157e308 : v)),
  );
}

/** Reads an HTTP answer's head from `conn`, then closes it. */
async function readHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } finally {
    conn.close();
  }
  return text;
}

Deno.test("the tracer records nothing while no trace runs", async (t) => {
  const local = new Tracer();

  await t.step("every recording call is a no-op; traceRequests still answers", async () => {
    assert.equal(local.active, false);
    local.complete("x", "c", 0, 1);
    local.counter("x", { v: 1 });
    const res = await traceRequests(local, () => new Response("ok"))(new Request("http://t/a"));
    assert.equal(await res.text(), "ok");
  });

  await t.step("a capture started afterwards holds only metadata", () => {
    local.start();
    const doc = local.stop();
    assert.deepEqual(doc.traceEvents.filter((e) => e.ph !== "M"), []);
    assert.equal(doc.otherData.recordedEvents, 0);
    assert.equal(doc.otherData.droppedEvents, 0);
  });
});

Deno.test("the tracer records complete events and counters while a trace runs", async (t) => {
  const local = new Tracer();

  await t.step("complete events and counters carry their names, times and args", () => {
    local.start();
    const t0 = local.now();
    local.complete("store commit", "store", t0, 5, { rows: 2 });
    local.counter("queue", { depth: 3 });
    const doc = local.stop();
    assert.equal(local.active, false);
    const byName = new Map(doc.traceEvents.map((e) => [e.name, e]));
    const commit = byName.get("store commit")!;
    assert.deepEqual([commit.ph, commit.cat, commit.ts, commit.dur], ["X", "store", t0, 5]);
    assert.deepEqual(commit.args, { rows: 2 });
    assert.deepEqual(byName.get("queue")!.args, { depth: 3 });
    assert.equal(byName.get("queue")!.ph, "C");
    for (const e of doc.traceEvents) {
      assert.ok(Number.isFinite(e.ts) && Number.isInteger(e.pid) && Number.isInteger(e.tid));
    }
    assert.ok(doc.traceEvents.some((e) => e.ph === "M" && e.name === "process_name"));
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

  await t.step("events past maxEvents are counted as dropped and take no lane", () => {
    local.start({ maxEvents: 2 });
    for (let i = 0; i < 5; i++) local.counter("n", { i });
    // Ten overlapping spans would need ten lanes; none is kept, so none is made.
    for (let i = 0; i < 10; i++) local.complete("overlapping", "c", i, 100);
    const doc = local.stop();
    assert.equal(doc.traceEvents.filter((e) => e.ph === "C").length, 2);
    assert.equal(doc.otherData.recordedEvents, 2);
    assert.equal(doc.otherData.droppedEvents, 13);
    assert.equal(lanes(doc), 0);
  });

  await t.step(`at most ${TRACE_MAX_LANES} lanes; spans needing another are dropped`, () => {
    local.start();
    // Each span overlaps every other without nesting: one lane each.
    for (let i = 0; i < TRACE_MAX_LANES + 5; i++) local.complete("wide", "c", i, 1e6);
    const doc = local.stop();
    assert.equal(lanes(doc), TRACE_MAX_LANES);
    assert.equal(spans(doc.traceEvents).length, TRACE_MAX_LANES);
    assert.equal(doc.otherData.droppedEvents, 5);
  });

  await t.step("starting twice is a programming error", () => {
    local.start();
    assert.throws(() => local.start(), /already running/);
    local.stop();
  });
});

Deno.test("traceRequests records each request with method, path and status or error", async () => {
  const tracer = new Tracer();
  tracer.start();
  const ok = await traceRequests(tracer, () => Promise.resolve(new Response("1", { status: 201 })))(
    new Request("http://svc.test/v1/sequence/orders?count=2"),
  );
  await ok.body?.cancel();
  traceRequests(tracer, () => new Response(null, { status: 204 }))(
    new Request("http://svc.test/health", { method: "HEAD" }),
  );
  assert.throws(() =>
    traceRequests(tracer, () => {
      throw new RangeError("boom");
    })(new Request("http://svc.test/boom"))
  );
  await assert.rejects(
    Promise.resolve(
      traceRequests(tracer, () => Promise.reject("plain"))(new Request("http://svc.test/no")),
    ),
  );
  const events = spans(tracer.stop().traceEvents);
  assert.deepEqual(
    events.map((e) => [e.name, e.cat, e.args]),
    [
      ["GET /v1/sequence/orders", "http", { status: 201 }],
      ["HEAD /health", "http", { status: 204 }],
      ["GET /boom", "http", { error: "RangeError: boom" }],
      ["GET /no", "http", { error: "plain" }],
    ],
  );
});

Deno.test("every field a request records is bounded", async (t) => {
  await t.step("cutText cuts at a byte bound, never inside a character", () => {
    assert.deepEqual(cutText("/short", 200), { text: "/short" });
    assert.deepEqual(cutText("a".repeat(201), 200), { text: `${"a".repeat(200)}…`, bytes: 201 });
    // "é" is 2 bytes, "中" 3, "😀" 4 (two UTF-16 units): the cut stops before a character that
    // does not fit whole.
    assert.deepEqual(cutText("é".repeat(101), 200), { text: `${"é".repeat(100)}…`, bytes: 202 });
    assert.deepEqual(cutText("中".repeat(67), 200), { text: `${"中".repeat(66)}…`, bytes: 201 });
    assert.deepEqual(cutText("😀".repeat(51), 200), { text: `${"😀".repeat(50)}…`, bytes: 204 });
    assert.equal(cutText("\ud800x", 10).text, "\ufffdx", "a lone surrogate is replaced");
  });

  await t.step("a 60 KB path, a long method and a long error are cut", () => {
    const tracer = new Tracer();
    tracer.start();
    const path = "/" + "x".repeat(60_000);
    const req = new Request(`http://svc.test${path}?q=1`, { method: "M".repeat(5_000) });
    assert.throws(() =>
      traceRequests(tracer, () => {
        throw new Error(`bad\u0000\n${"e".repeat(10_000)}`);
      })(req)
    );
    const [event] = spans(tracer.stop().traceEvents);
    assert.equal(
      event.name,
      `${"M".repeat(TRACE_METHOD_MAX)}… /${"x".repeat(TRACE_PATH_MAX - 1)}…`,
    );
    assert.deepEqual(event.args, {
      pathBytes: path.length,
      error: `Error: bad  ${"e".repeat(TRACE_ERROR_MAX - 12)}…`,
    });
    assert.ok(worstJsonBytes(event) <= TRACE_EVENT_JSON_MAX);
  });

  await t.step(
    "over real HTTP, the worst request a client can send fits TRACE_EVENT_JSON_MAX",
    async () => {
      const tracer = new Tracer();
      const handler = traceRequests(tracer, () => {
        throw new Error('"'.repeat(10_000));
      });
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {}, onError: () => new Response(null) },
        (req) => handler(req),
      );
      tracer.start();
      try {
        // `"` doubles in JSON; the server takes it raw in a request target (a URL parser would
        // escape it). A method may be thousands of characters long (the request line may have up to 64 KB).
        const head = `${"A".repeat(5_000)} /${'"'.repeat(60_000)} HTTP/1.1\r\n` +
          "Host: x\r\nConnection: close\r\n\r\n";
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
        await conn.write(new TextEncoder().encode(head));
        const answer = await readHead(conn);
        assert.match(answer, /^HTTP\/1\.1 200 /);
      } finally {
        await server.shutdown();
      }
      const [event] = spans(tracer.stop().traceEvents);
      assert.equal(event.args!.pathBytes, 60_001);
      assert.equal(
        event.name,
        `${"A".repeat(TRACE_METHOD_MAX)}… /${'"'.repeat(TRACE_PATH_MAX - 1)}…`,
      );
      const bytes = worstJsonBytes(event);
      assert.ok(bytes <= TRACE_EVENT_JSON_MAX, `${bytes} > ${TRACE_EVENT_JSON_MAX}`);
      assert.ok(bytes > TRACE_EVENT_JSON_MAX - 20, `the bound is tight (${bytes} bytes)`);
    },
  );

  await t.step("the longest lane name fits TRACE_LANE_JSON_MAX", () => {
    const lane: TraceEvent = {
      name: "thread_name",
      ph: "M",
      ts: 0,
      pid: 1,
      tid: 1,
      args: { name: `api-worker-63: spans ${TRACE_MAX_LANES}` },
    };
    const longest = -1.7976931348623157e308;
    const bytes = utf8(JSON.stringify({ ...lane, pid: longest, tid: longest }));
    assert.ok(bytes <= TRACE_LANE_JSON_MAX, `${bytes} > ${TRACE_LANE_JSON_MAX}`);
  });

  await t.step("a recorded path holds no reference to the request's 60 KB URL", async () => {
    const tracer = new Tracer();
    const handler = traceRequests(tracer, () => new Response(null, { status: 404 }));
    const requests = 2_000;
    const before = heapAfterGc();
    tracer.start();
    for (let i = 0; i < requests; i++) {
      // A distinct 60 KB URL each time; the request and its URL are garbage afterwards.
      const res = handler(new Request(`http://svc.test/${i}${"x".repeat(60_000)}?q=${i}`));
      await (res as Response).body?.cancel();
    }
    const grown = heapAfterGc() - before;
    // Retained URLs would be 2,000 × 60 KB = 120 MB.
    assert.ok(grown < requests * 2_000, `${grown} bytes for ${requests} events`);
    assert.equal(spans(tracer.stop().traceEvents).length, requests);
  });
});

Deno.test("the trace budget is per process, split over its threads", () => {
  assert.equal(traceShare(1), TRACE_MAX_EVENTS);
  assert.equal(traceShare(2), TRACE_MAX_EVENTS / 2);
  assert.equal(traceShare(65), Math.floor(TRACE_MAX_EVENTS / 65));
  assert.ok(traceShare(65) * 65 <= TRACE_MAX_EVENTS);
  assert.equal(traceShare(3, 2), 1, "every thread keeps at least one event");
});

Deno.test("encodeTrace streams the document as JSON", async (t) => {
  const tracer = new Tracer();
  await t.step("an empty capture", async () => {
    tracer.start();
    const doc = tracer.stop();
    assert.deepEqual(await new Response(encodeTrace(doc)).json(), doc);
  });

  await t.step("several chunks of events, with bigints written as exact digits", async () => {
    tracer.start();
    for (let i = 0; i < 2_500; i++) tracer.complete(`e${i}`, "c", i, 0.5, { i });
    const doc = tracer.stop();
    let chunks = 0;
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of encodeTrace(doc)) {
      chunks++;
      text += decoder.decode(chunk, { stream: true });
    }
    assert.ok(chunks >= 3, `${chunks} chunks`);
    assert.deepEqual(JSON.parse(text), doc);
    const withBigint: TraceDocument = {
      ...doc,
      traceEvents: [{ name: "n", ph: "C", ts: 1, pid: 1, tid: 0, args: { v: 2n ** 64n } }],
    };
    const big = await new Response(encodeTrace(withBigint)).text();
    assert.match(big, /"v":18446744073709551616/);
  });
});
