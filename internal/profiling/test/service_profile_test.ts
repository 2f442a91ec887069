import assert from "node:assert/strict";
import type { Profile } from "pprof-format";
import { runFlags, startService } from "../../launch/service.ts";
import { decodePprofGzip } from "../pprof_convert.ts";
import type { TraceDocument } from "../trace.ts";

const MAIN = decodeURIComponent(new URL("../../../cmd/app/main.ts", import.meta.url).pathname);

/** Keeps `clients` concurrent requests going until `stop` settles. */
function load(url: string, clients: number, stop: Promise<unknown>) {
  let done = false;
  const finish = () => (done = true);
  stop.then(finish, finish);
  return Promise.all(Array.from({ length: clients }, async () => {
    while (!done) await fetch(url).then((r) => r.body?.cancel());
  }));
}

/** For each sampled stack, its outermost frame (the thread) and every function's file. */
function stacks(p: Profile): { thread: string; files: string[] }[] {
  const s = p.stringTable.strings;
  const fnById = new Map(p.function.map((f) => [Number(f.id), f]));
  const locById = new Map(p.location.map((l) => [Number(l.id), l]));
  return p.sample.map((sample) => {
    const fns = sample.locationId.flatMap((id) =>
      locById.get(Number(id))!.line.map((line) => fnById.get(Number(line.functionId))!)
    );
    return {
      thread: s[Number(fns.at(-1)!.name)],
      files: fns.map((f) => s[Number(f.filename)]),
    };
  });
}

for (const workers of [1, 2]) {
  Deno.test(`WORKERS=${workers}: profiles and traces of the running service under load`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-profile-" });
    const service = await startService({ DATA_DIR: dir, WORKERS: String(workers) });
    const apiThreads = Array.from({ length: workers }, (_, i) => `api-worker-${i}`);
    try {
      await t.step(
        "cmdline is the argv: deno, run, the task's flags it can show, main.ts",
        async () => {
          const res = await fetch(`${service.debug}/debug/pprof/cmdline`);
          assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
          const argv = (await res.text()).split("\0");
          assert.equal(argv[0], Deno.execPath());
          assert.equal(argv[1], "run");
          assert.equal(argv.at(-1), MAIN);
          // The runtime reveals unstable APIs and whole permissions, not lists (--allow-read=…)
          // or --no-prompt; those of the task's flags are all shown.
          const flags = await runFlags({ DATA_DIR: dir, WORKERS: String(workers) });
          const shown = flags.filter((flag) => /^--(unstable-[a-z]+|allow-[a-z]+)$/.test(flag));
          assert.deepEqual(argv.slice(2, -1).sort(), shown.sort());
          assert.ok(argv.includes("--allow-sys") && argv.includes("--unstable-net"));
        },
      );

      await t.step("a 2-second CPU profile shows the main thread and each API worker", async () => {
        const profile = fetch(`${service.debug}/debug/pprof/profile?seconds=2`);
        await load(`${service.api}/v1/sequence`, 8, profile);
        const res = await profile;
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "application/octet-stream");
        const decoded = await decodePprofGzip(new Uint8Array(await res.arrayBuffer()));
        assert.ok(decoded.sample.length > 0, "no samples");
        const strings = decoded.stringTable.strings;
        const names = new Set(decoded.function.map((f) => strings[Number(f.name)]));
        for (const thread of ["main", ...apiThreads]) {
          assert.ok(names.has(`(thread ${thread})`), `(thread ${thread}) in ${[...names]}`);
        }
        // The API is served by the workers: the v1 handlers run there, never in main.
        const handling = stacks(decoded).filter((s) =>
          s.files.some((f) => f.includes("/internal/handlers/v1/"))
        );
        assert.ok(handling.length > 0, "no v1 handler code sampled");
        for (const { thread } of handling) {
          assert.match(thread, /^\(thread api-worker-\d+\)$/);
        }
      });

      await t.step("a heap profile decodes with space/bytes", async () => {
        const heap = fetch(`${service.debug}/debug/pprof/heap?seconds=1`);
        await load(`${service.api}/v1/sequence?count=3`, 4, heap);
        const decoded = await decodePprofGzip(new Uint8Array(await (await heap).arrayBuffer()));
        const strings = decoded.stringTable.strings;
        assert.deepEqual(
          decoded.sampleType.map((v) => [strings[Number(v.type)], strings[Number(v.unit)]]),
          [["space", "bytes"]],
        );
      });

      await t.step("a trace is trace-event JSON with the requests made during it", async () => {
        const trace = fetch(`${service.debug}/debug/pprof/trace?seconds=1`);
        await load(`${service.api}/v1/sequence/default?count=2`, 4, trace);
        const res = await trace;
        assert.equal(res.status, 200);
        const doc: TraceDocument = await res.json();
        const requests = doc.traceEvents.filter((e) =>
          e.ph === "X" && e.name === "GET /v1/sequence/default"
        );
        assert.ok(requests.length > 0, "no request events");
        assert.ok(requests.every((e) => e.dur! >= 0 && e.ts > 0));
        const threads = doc.otherData.threads!;
        assert.deepEqual(threads.map((c) => c.thread), ["main", ...apiThreads]);
        assert.equal(
          doc.otherData.recordedEvents,
          doc.traceEvents.filter((e) => e.ph !== "M").length,
        );
        assert.equal(
          doc.otherData.recordedEvents,
          threads.reduce((sum, c) => sum + c.recordedEvents, 0),
        );
      });
    } finally {
      service.kill("SIGTERM");
      const status = await service.status;
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, status.stderr);
    }
  });
}
