import assert from "node:assert/strict";
import { eventually } from "../../launch/eventually.ts";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { Profile } from "pprof-format";
import { createRouter, type Route } from "../../http/router.ts";
import { json } from "../../http/respond.ts";
import { silentLogger } from "../../log/log.ts";
import { createProfiler } from "../pprof_routes.ts";
import { type TraceDocument, Tracer, traceRequests } from "../trace.ts";

const CMDLINE = ["/usr/bin/deno", "run", "--allow-sys", "cmd/app/main.ts", "with space", ""];

/** A project-code workload: the router, `json` and `toJson` (with its bigint replacer). */
const loadRoute: Route = {
  method: "GET",
  path: "/load/:n",
  access: "open",
  handler: (_req, ctx) => {
    const n = BigInt(ctx.params.n);
    return json(200, { n, items: Array.from({ length: 64 }, (_, i) => ({ i, v: n * BigInt(i) })) });
  },
};

const tracer = new Tracer();
const profiler = createProfiler({ cmdline: CMDLINE, tracer, logger: silentLogger });
const router = createRouter([...profiler.routes, loadRoute], { logger: silentLogger });
/** The router as the API serves it: every request recorded while a trace runs. */
const traced = traceRequests(tracer, router);
const cpuBusy = () => profiler.busy().cpu !== undefined;
const heapBusy = () => profiler.busy().heap;

/** Calls the router; the busy flag is taken synchronously, before the first `await`. */
async function get(path: string, init?: RequestInit): Promise<Response> {
  return await router(new Request(`http://debug.test${path}`, init));
}

/** Drives the load route (through `traceRequests`) until `work` settles, yielding to timers. */
async function underLoad<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  let n = 0;
  while (!done) {
    for (let i = 0; i < 20; i++) {
      const res = await traced(new Request(`http://debug.test/load/${n++}`));
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

/** A function defined under internal/http/ (project code, not this test). */
const PROJECT_FN = /^\S+ \/.*\/internal\/http\/(respond|router)\.ts$/;

Deno.test("CPU profile: pprof that shows the project's functions under load", async (t) => {
  let profile: Profile | undefined;
  await t.step("a 1 s profile decodes as pprof with samples from internal/http", async () => {
    profile = await pprofOf(await underLoad(get("/debug/pprof/profile?seconds=1")));
    assert.deepEqual(typesOf(profile), ["samples/count", "cpu/nanoseconds"]);
    assert.ok(profile.sample.length > 0, "samples exist");
    assert.ok(Number(profile.durationNanos) >= 0.9e9, "duration about one second");
    const fns = [...sampledFunctions(profile)];
    const project = fns.filter((f) => PROJECT_FN.test(f));
    assert.ok(project.length > 0, `a project function is sampled; got ${fns.join(", ")}`);
    assert.equal(cpuBusy(), false, "the busy flag is released");
  });

  await t.step("line numbers are those of the .ts sources, not of Deno's emitted JS", async () => {
    assert.ok(profile !== undefined, "the profile of the previous step");
    const s = profile.stringTable.strings;
    let checked = 0;
    for (const fn of profile.function) {
      const name = s[Number(fn.name)];
      const file = s[Number(fn.filename)];
      if (!/\/internal\/http\/(respond|router)\.ts$/.test(file)) continue;
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
    assert.equal(heapBusy(), false);
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
      assert.ok(["X", "C", "M"].includes(e.ph), `phase ${e.ph}`);
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
    const timed = doc.traceEvents.filter((e) => e.ph !== "M").length;
    assert.deepEqual(doc.otherData.threads, [
      { thread: "main", recordedEvents: timed, droppedEvents: 0 },
    ]);
    assert.equal(doc.otherData.recordedEvents, timed);
    assert.equal(doc.otherData.droppedEvents, 0);
    assert.equal(tracer.active, false, "recording stops with the capture");
  });

  await t.step("max_events=1000 keeps the first 1,000 events and counts the rest", async () => {
    const res = await underLoad(get("/debug/pprof/trace?seconds=1&max_events=1000"));
    assert.equal(res.status, 200);
    const doc: TraceDocument = await res.json();
    const timed = doc.traceEvents.filter((e) => e.ph !== "M").length;
    assert.equal(timed, 1000);
    assert.equal(doc.otherData.recordedEvents, 1000);
    assert.ok(doc.otherData.droppedEvents > 0, "the load made more than 1,000 events");
    assert.deepEqual(doc.otherData.threads, [
      { thread: "main", recordedEvents: 1000, droppedEvents: doc.otherData.droppedEvents },
    ]);
  });

  await t.step("requests after the capture are not recorded", async () => {
    const res = await traced(new Request("http://debug.test/load/1"));
    await res.body?.cancel();
    tracer.start();
    assert.deepEqual(tracer.stop().traceEvents.filter((e) => e.ph !== "M"), []);
  });
});

/** Reads an error answer: its status and JSON body, which must carry `status` and `code`. */
async function errorOf(res: Response): Promise<{ status: number; code: string; error: string }> {
  assert.equal(res.headers.get("content-type"), "application/json");
  const body = await res.json();
  assert.equal(body.status, "error");
  assert.equal(typeof body.code, "string");
  assert.equal(typeof body.error, "string");
  return { status: res.status, code: body.code, error: body.error };
}

/** Polls until `condition` holds (see `eventually`). */
const until = (condition: () => boolean, what: string) => eventually(what, condition);

Deno.test("one CPU profile or trace at a time; heap has its own flag", async (t) => {
  await t.step(
    "a second profile or a trace during a profile gets 409; heap still runs",
    async () => {
      const first = get("/debug/pprof/profile?seconds=1&format=cpuprofile");
      assert.deepEqual(profiler.busy(), { cpu: "CPU profile", heap: false });
      for (const path of ["/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"]) {
        const body = await errorOf(await get(path));
        assert.equal(body.status, 409);
        assert.equal(body.code, "conflict");
        assert.match(body.error, /a CPU profile is already running/);
      }
      const heap = get("/debug/pprof/heap?seconds=1");
      assert.equal(heapBusy(), true);
      const secondHeap = await errorOf(await get("/debug/pprof/heap?seconds=1"));
      assert.equal(secondHeap.status, 409);
      assert.equal(secondHeap.code, "conflict");
      assert.match(secondHeap.error, /a heap profile is already running/);
      const [a, b] = await Promise.all([first, heap]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      await a.body?.cancel();
      await b.body?.cancel();
      assert.deepEqual(profiler.busy(), { cpu: undefined, heap: false });
    },
  );

  await t.step("a profile during a trace gets 409 naming the trace", async () => {
    const trace = get("/debug/pprof/trace?seconds=1");
    assert.equal(profiler.busy().cpu, "trace");
    const body = await errorOf(await get("/debug/pprof/profile?seconds=1"));
    assert.equal(body.status, 409);
    assert.match(body.error, /a trace is already running/);
    await (await trace).body?.cancel();
  });
});

Deno.test("a client that goes away stops the capture and frees the busy flag", async (t) => {
  for (const path of ["/debug/pprof/profile?seconds=30", "/debug/pprof/trace?seconds=30"]) {
    await t.step(path, async () => {
      const abort = new AbortController();
      const pending = get(path, { signal: abort.signal });
      assert.equal(cpuBusy(), true);
      abort.abort();
      const body = await errorOf(await pending);
      assert.equal(body.status, 499);
      assert.equal(body.code, "client_closed");
      const [, ms] = body.error.match(/client closed the request; .* stopped after (\d+) ms$/)!;
      assert.ok(Number(ms) < 30_000, `stopped before its 30 s were up (${ms} ms)`);
      assert.equal(cpuBusy(), false);
      assert.equal(tracer.active, false);
    });
  }

  await t.step("heap, too", async () => {
    const abort = new AbortController();
    const pending = get("/debug/pprof/heap?seconds=30", { signal: abort.signal });
    assert.equal(heapBusy(), true);
    abort.abort();
    const body = await errorOf(await pending);
    assert.equal(body.status, 499);
    assert.equal(body.code, "client_closed");
    assert.equal(heapBusy(), false);
  });

  await t.step("over real HTTP: closing the connection ends the profile", async () => {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => router(req),
    );
    try {
      const abort = new AbortController();
      const url = `http://127.0.0.1:${server.addr.port}/debug/pprof/profile?seconds=30`;
      const fetching = fetch(url, { signal: abort.signal }).catch((e: unknown) => e);
      await until(cpuBusy, "the profile to start");
      abort.abort();
      assert.ok((await fetching) instanceof Error, "the client gave up");
      await until(() => !cpuBusy(), "the busy flag to be released");
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("stop() ends running captures with what they caught, and refuses new ones", async (t) => {
  const local = new Tracer();
  const stopped = createProfiler({ cmdline: CMDLINE, tracer: local, logger: silentLogger });
  const call = createRouter(stopped.routes, { logger: silentLogger });
  const at = (path: string) => call(new Request(`http://debug.test${path}`));

  await t.step("a 300 s CPU profile and heap profile answer 200 at once", async () => {
    const cpu = at("/debug/pprof/profile?seconds=300");
    const heap = at("/debug/pprof/heap?seconds=300");
    assert.deepEqual(stopped.busy(), { cpu: "CPU profile", heap: true });
    stopped.stop();
    const profile = await pprofOf(await cpu);
    assert.deepEqual(typesOf(profile), ["samples/count", "cpu/nanoseconds"]);
    assert.ok(Number(profile.durationNanos) < 300e9, "ended before its window");
    assert.deepEqual(typesOf(await pprofOf(await heap)), ["space/bytes"]);
    assert.deepEqual(stopped.busy(), { cpu: undefined, heap: false });
  });

  await t.step("every capture asked for afterwards gets a JSON 503", async () => {
    for (const name of ["profile", "heap", "trace"]) {
      const res = await at(`/debug/pprof/${name}?seconds=1`);
      assert.equal(res.headers.get("retry-after"), "1");
      const body = await errorOf(res);
      assert.equal(body.status, 503, name);
      assert.equal(body.code, "unavailable");
      assert.match(body.error, /shutting down/);
    }
    assert.deepEqual(stopped.busy(), { cpu: undefined, heap: false });
  });

  await t.step("a trace running when stop() comes answers its events at once", async () => {
    const other = new Tracer();
    const profilerB = createProfiler({ cmdline: CMDLINE, tracer: other, logger: silentLogger });
    const routerB = createRouter(profilerB.routes, { logger: silentLogger });
    const pending = routerB(new Request("http://debug.test/debug/pprof/trace?seconds=300"));
    assert.equal(other.active, true);
    other.complete("before stop", "test", other.now(), 1);
    profilerB.stop();
    const res = await pending;
    assert.equal(res.status, 200);
    const doc: TraceDocument = await res.json();
    assert.ok(doc.traceEvents.some((e) => e.name === "before stop"));
    assert.ok(doc.otherData.stoppedAtUs - doc.otherData.startedAtUs < 300e6);
    assert.equal(other.active, false);
  });
});

Deno.test("bad query parameters get 400 naming the parameter and the rule", async (t) => {
  const valid = (s: string) => /^[1-9][0-9]*$/.test(s) && Number(s) <= 300;

  await t.step("property: any seconds that is not a canonical integer in 1–300 → 400", async () => {
    const invalid = fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.integer({ min: -1000, max: 1000 }).map(String),
      fc.integer({ min: 1, max: 300 }).map((n) => `0${n}`),
      fc.double().map(String),
      fc.constantFrom("", "0", "007", "0300", "301", "+5", " 5", "5 ", "5.0", "1e1", "0x1", "٣"),
    ).filter((s) => !valid(s));
    const endpoint = fc.constantFrom("profile", "heap", "trace");
    await fc.assert(
      fc.asyncProperty(endpoint, invalid, async (name, raw) => {
        const body = await errorOf(
          await get(`/debug/pprof/${name}?seconds=${encodeURIComponent(raw)}`),
        );
        assert.equal(body.status, 400, `${name}?seconds=${JSON.stringify(raw)}`);
        assert.equal(body.code, "invalid");
        assert.match(body.error, /^query parameter seconds=".*" is invalid: /s);
        assert.match(
          body.error,
          /one integer from 1 to 300 \(default \d+\), without sign or leading zeros$/,
        );
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(profiler.busy(), { cpu: undefined, heap: false });
  });

  await t.step("seconds=0, 007, 301 and repeated seconds, by endpoint", async () => {
    const defaults = { profile: 30, heap: 5, trace: 1 };
    for (const [name, fallback] of Object.entries(defaults)) {
      for (const raw of ["0", "007", "301", "1e2", ""]) {
        const body = await errorOf(await get(`/debug/pprof/${name}?seconds=${raw}`));
        assert.equal(body.status, 400, `${name}?seconds=${raw}`);
        assert.equal(
          body.error,
          `query parameter seconds=${JSON.stringify(raw)} is invalid: must be one integer ` +
            `from 1 to 300 (default ${fallback}), without sign or leading zeros`,
        );
      }
      const repeated = await errorOf(await get(`/debug/pprof/${name}?seconds=1&seconds=1`));
      assert.equal(repeated.status, 400);
      assert.equal(repeated.code, "invalid");
      assert.equal(repeated.error, "query parameter seconds is repeated: give it at most once");
    }
    assert.deepEqual(profiler.busy(), { cpu: undefined, heap: false });
  });

  await t.step("max_events outside 1,000–200,000, with a leading zero, or repeated", async () => {
    for (const raw of ["0", "999", "200001", "01000", "1e3", "-1000", ""]) {
      const body = await errorOf(await get(`/debug/pprof/trace?max_events=${raw}`));
      assert.equal(body.status, 400, raw);
      assert.equal(
        body.error,
        `query parameter max_events=${JSON.stringify(raw)} is invalid: must be one integer ` +
          `from 1000 to 200000 (default 200000), without sign or leading zeros`,
      );
    }
    const repeated = await errorOf(await get("/debug/pprof/trace?max_events=1000&max_events=1000"));
    assert.equal(repeated.error, "query parameter max_events is repeated: give it at most once");
    assert.deepEqual(profiler.busy(), { cpu: undefined, heap: false });
  });

  await t.step("unknown format and kind", async () => {
    const cases: [string, RegExp][] = [
      [
        "/debug/pprof/profile?seconds=1&format=json",
        /^query parameter format="json" is invalid: must be one of "pprof", "cpuprofile"/,
      ],
      [
        "/debug/pprof/heap?format=cpuprofile",
        /^query parameter format="cpuprofile" is invalid: must be one of "pprof", "heapprofile"/,
      ],
      [
        "/debug/pprof/heap?kind=live",
        /^query parameter kind="live" is invalid: must be one of "alloc", "inuse"/,
      ],
      ["/debug/pprof/heap?kind=alloc&kind=inuse", /^query parameter kind is repeated/],
    ];
    for (const [path, message] of cases) {
      const body = await errorOf(await get(path));
      assert.equal(body.status, 400, path);
      assert.equal(body.code, "invalid");
      assert.match(body.error, message);
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
