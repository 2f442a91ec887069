import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { Profile } from "pprof-format";
import { createRouter, type Route } from "../../handlers/router.ts";
import { json } from "../../handlers/respond.ts";
import { silentLogger } from "../../log/log.ts";
import { cpuCaptureRunning, heapCaptureRunning, profilingRoutes } from "../pprof_routes.ts";
import { type TraceDocument, tracer, traceRequest } from "../trace.ts";

const CMDLINE = ["/usr/bin/deno", "run", "--allow-sys", "cmd/app/main.ts", "with space", ""];

/** A project-code workload: the router, `json` and `toJson` (with its bigint replacer). */
const loadRoute: Route = {
  method: "GET",
  path: "/load/:n",
  handler: (_req, _url, params) => {
    const n = BigInt(params.n);
    return json(200, { n, items: Array.from({ length: 64 }, (_, i) => ({ i, v: n * BigInt(i) })) });
  },
};

const router = createRouter(
  [...profilingRoutes({ cmdline: CMDLINE, logger: silentLogger }), loadRoute],
  silentLogger,
);

/** Calls the router; the busy flag is taken synchronously, before the first `await`. */
async function get(path: string, init?: RequestInit): Promise<Response> {
  return await router(new Request(`http://debug.test${path}`, init));
}

/** Drives the load route (through `traceRequest`) until `work` settles, yielding to timers. */
async function underLoad<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  let n = 0;
  while (!done) {
    for (let i = 0; i < 20; i++) {
      const res = await traceRequest(new Request(`http://debug.test/load/${n++}`), router);
      await res.body?.cancel();
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return settled;
}

async function pprofOf(res: Response): Promise<Profile> {
  assert.equal(res.status, 200, `status ${res.status}`);
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename=/);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return Profile.decode(new Uint8Array(gunzipSync(bytes)));
}

/** `name file` of every function on a sampled stack. */
function sampledFunctions(p: Profile): Set<string> {
  const s = p.stringTable.strings;
  const fnById = new Map(p.function.map((f) => [Number(f.id), f]));
  const locById = new Map(p.location.map((l) => [Number(l.id), l]));
  const out = new Set<string>();
  for (const sample of p.sample) {
    for (const id of sample.locationId) {
      for (const line of locById.get(Number(id))!.line) {
        const fn = fnById.get(Number(line.functionId))!;
        out.add(`${s[Number(fn.name)]} ${s[Number(fn.filename)]}`);
      }
    }
  }
  return out;
}

function typesOf(p: Profile): string[] {
  const s = p.stringTable.strings;
  return p.sampleType.map((v) => `${s[Number(v.type)]}/${s[Number(v.unit)]}`);
}

/** A function defined under internal/handlers/ (project code, not this test). */
const PROJECT_FN = /^\S+ \/.*\/internal\/handlers\/(respond|router)\.ts$/;

Deno.test("CPU profile: pprof that shows the project's functions under load", async (t) => {
  let profile: Profile | undefined;
  await t.step("a 1 s profile decodes as pprof with samples from internal/handlers", async () => {
    profile = await pprofOf(await underLoad(get("/debug/pprof/profile?seconds=1")));
    assert.deepEqual(typesOf(profile), ["samples/count", "cpu/nanoseconds"]);
    assert.ok(profile.sample.length > 0, "samples exist");
    assert.ok(Number(profile.durationNanos) >= 0.9e9, "duration about one second");
    const fns = [...sampledFunctions(profile)];
    const project = fns.filter((f) => PROJECT_FN.test(f));
    assert.ok(project.length > 0, `a project function is sampled; got ${fns.join(", ")}`);
    assert.equal(cpuCaptureRunning(), false, "the busy flag is released");
  });

  await t.step("line numbers are those of the .ts sources, not of Deno's emitted JS", async () => {
    assert.ok(profile !== undefined, "the profile of the previous step");
    const s = profile.stringTable.strings;
    let checked = 0;
    for (const fn of profile.function) {
      const name = s[Number(fn.name)];
      const file = s[Number(fn.filename)];
      if (!/\/internal\/handlers\/(respond|router)\.ts$/.test(file)) continue;
      if (!/^[A-Za-z_$][\w$]*$/.test(name)) continue; // anonymous or inferred names
      const source = (await Deno.readTextFile(file)).split("\n");
      const line = source[Number(fn.startLine) - 1] ?? "";
      assert.ok(line.includes(name), `${name} starts at ${file}:${fn.startLine}: ${line}`);
      checked++;
    }
    assert.ok(checked > 0, "some named project function was checked");
  });

  await t.step("format=cpuprofile is the V8 .cpuprofile JSON DevTools opens", async () => {
    const res = await underLoad(get("/debug/pprof/profile?seconds=1&format=cpuprofile"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const p = await res.json();
    assert.ok(Array.isArray(p.nodes) && p.nodes.length > 1);
    for (const node of p.nodes) {
      assert.equal(typeof node.id, "number");
      assert.equal(typeof node.callFrame.functionName, "string");
      assert.equal(typeof node.callFrame.url, "string");
    }
    assert.equal(p.nodes[0].callFrame.functionName, "(root)");
    assert.ok(Array.isArray(p.samples) && p.samples.length > 0);
    assert.equal(p.timeDeltas.length, p.samples.length);
    assert.ok(typeof p.startTime === "number" && p.endTime > p.startTime);
    const ids = new Set(p.nodes.map((n: { id: number }) => n.id));
    assert.ok(p.samples.every((id: number) => ids.has(id)), "samples name existing nodes");
  });
});

Deno.test("heap profile: sampling heap profile as pprof space/bytes", async (t) => {
  await t.step("kind=alloc (default) shows the project's allocations under load", async () => {
    const profile = await pprofOf(await underLoad(get("/debug/pprof/heap?seconds=1")));
    assert.deepEqual(typesOf(profile), ["space/bytes"]);
    assert.ok(profile.sample.length > 0, "samples exist");
    const fns = [...sampledFunctions(profile)];
    assert.ok(fns.some((f) => PROJECT_FN.test(f)), `a project function allocates: ${fns}`);
    assert.equal(heapCaptureRunning(), false);
  });

  await t.step("kind=inuse decodes too (possibly empty: only survivors count)", async () => {
    const profile = await pprofOf(await underLoad(get("/debug/pprof/heap?seconds=1&kind=inuse")));
    assert.deepEqual(typesOf(profile), ["space/bytes"]);
  });

  await t.step("format=heapprofile is the raw sampling heap profile JSON", async () => {
    const res = await underLoad(get("/debug/pprof/heap?seconds=1&format=heapprofile"));
    assert.equal(res.headers.get("content-type"), "application/json");
    const p = await res.json();
    assert.equal(p.head.callFrame.functionName, "(root)");
    assert.ok(Array.isArray(p.head.children) && Array.isArray(p.samples));
  });
});

Deno.test("trace: the service's timeline as trace-event JSON", async (t) => {
  await t.step("requests and event-loop delay recorded during the capture", async () => {
    const res = await underLoad(get("/debug/pprof/trace?seconds=1"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const doc: TraceDocument = await res.json();
    assert.ok(Array.isArray(doc.traceEvents));
    for (const e of doc.traceEvents) {
      assert.ok(["X", "C", "i", "M"].includes(e.ph), `phase ${e.ph}`);
      assert.equal(typeof e.name, "string");
      assert.ok(typeof e.ts === "number" && Number.isInteger(e.pid) && Number.isInteger(e.tid));
      if (e.ph === "X") assert.ok(typeof e.dur === "number" && e.dur >= 0);
    }
    const requests = doc.traceEvents.filter((e) => e.ph === "X" && e.cat === "http");
    assert.ok(requests.length > 0, "requests made during the capture are there");
    assert.match(requests[0].name, /^GET \/load\/\d+$/);
    assert.equal(requests[0].args!.status, 200);
    const delays = doc.traceEvents.filter((e) => e.name === "event loop delay (ms)");
    assert.ok(delays.length >= 10, `event-loop delay sampled (${delays.length})`);
    assert.equal(tracer.active, false, "recording stops with the capture");
  });

  await t.step("requests after the capture are not recorded", async () => {
    const res = await traceRequest(new Request("http://debug.test/load/1"), router);
    await res.body?.cancel();
    tracer.start();
    assert.deepEqual(tracer.stop().traceEvents.filter((e) => e.ph !== "M"), []);
  });
});

Deno.test("one CPU profile or trace at a time; heap has its own flag", async (t) => {
  await t.step(
    "a second profile or a trace during a profile gets 409; heap still runs",
    async () => {
      const first = get("/debug/pprof/profile?seconds=1&format=cpuprofile");
      assert.equal(cpuCaptureRunning(), true);
      for (const path of ["/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"]) {
        const res = await get(path);
        assert.equal(res.status, 409);
        const body = await res.json();
        assert.equal(body.status, "error");
        assert.match(body.error, /a CPU profile is already running/);
      }
      const heap = get("/debug/pprof/heap?seconds=1");
      const secondHeap = await get("/debug/pprof/heap?seconds=1");
      assert.equal(secondHeap.status, 409);
      assert.match((await secondHeap.json()).error, /a heap profile is already running/);
      const [a, b] = await Promise.all([first, heap]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      await a.body?.cancel();
      await b.body?.cancel();
      assert.equal(cpuCaptureRunning(), false);
    },
  );

  await t.step("a profile during a trace gets 409 naming the trace", async () => {
    const trace = get("/debug/pprof/trace?seconds=1");
    const res = await get("/debug/pprof/profile?seconds=1");
    assert.equal(res.status, 409);
    assert.match((await res.json()).error, /a trace is already running/);
    await (await trace).body?.cancel();
  });
});

Deno.test("a client that goes away stops the capture and frees the busy flag", async (t) => {
  for (const path of ["/debug/pprof/profile?seconds=30", "/debug/pprof/trace?seconds=30"]) {
    await t.step(path, async () => {
      const abort = new AbortController();
      const started = performance.now();
      const pending = get(path, { signal: abort.signal });
      assert.equal(cpuCaptureRunning(), true);
      setTimeout(() => abort.abort(), 100);
      const res = await pending;
      assert.equal(res.status, 499);
      assert.match((await res.json()).error, /client closed the request/);
      assert.ok(performance.now() - started < 5_000, "stopped early");
      assert.equal(cpuCaptureRunning(), false);
      assert.equal(tracer.active, false);
    });
  }

  await t.step("heap, too", async () => {
    const abort = new AbortController();
    const pending = get("/debug/pprof/heap?seconds=30", { signal: abort.signal });
    assert.equal(heapCaptureRunning(), true);
    abort.abort();
    const res = await pending;
    assert.equal(res.status, 499);
    await res.body?.cancel();
    assert.equal(heapCaptureRunning(), false);
  });

  await t.step("over real HTTP: closing the connection ends the profile", async () => {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, router);
    try {
      const abort = new AbortController();
      const url = `http://127.0.0.1:${server.addr.port}/debug/pprof/profile?seconds=30`;
      const fetching = fetch(url, { signal: abort.signal }).catch((e: unknown) => e);
      const deadline = performance.now() + 5_000;
      while (!cpuCaptureRunning() && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(cpuCaptureRunning(), true, "the profile started");
      abort.abort();
      assert.ok((await fetching) instanceof Error, "the client gave up");
      while (cpuCaptureRunning() && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(cpuCaptureRunning(), false, "the busy flag was released");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("bad query parameters get 400 naming the parameter and the rule", async (t) => {
  await t.step("property: any seconds that is not a decimal integer in 1–300 → 400", async () => {
    const invalid = fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.integer({ min: -1000, max: 1000 }).map(String),
      fc.double().map(String),
      fc.constantFrom("", "0", "301", "+5", " 5", "5 ", "5.0", "1e1", "0x1", "٣"),
    ).filter((s) => !(/^[0-9]+$/.test(s) && Number(s) >= 1 && Number(s) <= 300));
    const endpoint = fc.constantFrom("profile", "heap", "trace");
    await fc.assert(
      fc.asyncProperty(endpoint, invalid, async (name, raw) => {
        const res = await get(`/debug/pprof/${name}?seconds=${encodeURIComponent(raw)}`);
        const body = await res.json();
        assert.equal(res.status, 400, `${name}?seconds=${JSON.stringify(raw)}`);
        assert.match(body.error, /^query parameter "seconds" must be a whole number of seconds/);
        assert.match(body.error, /from 1 to 300/);
      }),
      { numRuns: 300 },
    );
    assert.equal(cpuCaptureRunning(), false);
  });

  await t.step("repeated and empty seconds, unknown format and kind", async () => {
    const cases: [string, RegExp][] = [
      ["/debug/pprof/profile?seconds=1&seconds=1", /"seconds" must be given at most once/],
      ["/debug/pprof/trace?seconds=", /"seconds" must be a whole number .* got ""/],
      [
        "/debug/pprof/profile?seconds=1&format=json",
        /"format" must be one of "pprof", "cpuprofile"/,
      ],
      ["/debug/pprof/heap?format=cpuprofile", /"format" must be one of "pprof", "heapprofile"/],
      ["/debug/pprof/heap?kind=live", /"kind" must be one of "alloc", "inuse"/],
    ];
    for (const [path, message] of cases) {
      const res = await get(path);
      assert.equal(res.status, 400, path);
      assert.match((await res.json()).error, message);
    }
  });
});

Deno.test("cmdline, symbol and the index page", async (t) => {
  await t.step("cmdline is the executable and arguments separated by NUL bytes", async () => {
    const res = await get("/debug/pprof/cmdline");
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    const text = await res.text();
    assert.equal(text, "/usr/bin/deno\0run\0--allow-sys\0cmd/app/main.ts\0with space\0");
    assert.deepEqual(text.split("\0"), CMDLINE);
  });

  await t.step("symbol: GET answers num_symbols; POST resolves no V8 address", async () => {
    const res = await get("/debug/pprof/symbol");
    assert.equal(await res.text(), "num_symbols: 1\n");
    const post = await get("/debug/pprof/symbol", { method: "POST", body: "0x1234+0x5678" });
    assert.equal(post.status, 200);
    assert.equal(await post.text(), "num_symbols: 1\n");
    const put = await get("/debug/pprof/symbol", { method: "PUT" });
    assert.equal(put.status, 405);
    await put.body?.cancel();
  });

  await t.step("the index links every endpoint with its description", async () => {
    const res = await get("/debug/pprof/");
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await res.text();
    for (const name of ["cmdline", "profile", "heap", "symbol", "trace"]) {
      assert.match(html, new RegExp(`<a href="${name}[^"]*">${name}</a>`), name);
    }
    assert.match(html, /go tool pprof http:\/\/debug\.test\/debug\/pprof\/profile/);
    assert.match(html, /Chrome DevTools/);
    assert.match(html, /perfetto/i);
  });
});
