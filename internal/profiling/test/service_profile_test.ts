import assert from "node:assert/strict";
import { startService } from "../../launch/service.ts";
import { decodePprofGzip } from "../pprof_convert.ts";

/** Keeps `clients` concurrent requests going until `stop` resolves. */
function load(url: string, clients: number, stop: Promise<unknown>) {
  let done = false;
  stop.then(() => (done = true));
  return Promise.all(Array.from({ length: clients }, async () => {
    while (!done) await fetch(url).then((r) => r.body?.cancel());
  }));
}

for (const workers of ["1", "2"]) {
  Deno.test(`WORKERS=${workers}: profiles and traces of the running service under load`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "sequencer-profile-" });
    const service = await startService({ DATA_DIR: dir, WORKERS: workers });
    try {
      await t.step("a 2-second CPU profile decodes as pprof and shows the handlers", async () => {
        const profile = fetch(`${service.debug}/debug/pprof/profile?seconds=2`);
        await load(`${service.api}/v1/sequence`, 8, profile);
        const res = await profile;
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "application/octet-stream");
        const decoded = await decodePprofGzip(new Uint8Array(await res.arrayBuffer()));
        assert.ok(decoded.sample.length > 0, "no samples");
        const strings = decoded.stringTable.strings;
        const names = decoded.function.map((f) => strings[Number(f.name)]);
        const files = decoded.function.map((f) => strings[Number(f.filename)]);
        assert.ok(files.some((f) => f.includes("internal/handlers/")), "no handler code sampled");
        assert.ok(names.includes("fastDefault") || names.includes("takeNow"), names.join(","));
        if (workers !== "1") {
          assert.ok(names.includes("(thread api-worker-0)") && names.includes("(thread main)"));
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
        await new Promise((r) => setTimeout(r, 100));
        await load(`${service.api}/v1/sequence/default?count=2`, 4, trace);
        const doc = await (await trace).json();
        assert.ok(Array.isArray(doc.traceEvents));
        const requests = doc.traceEvents.filter((e: { ph: string; name: string }) =>
          e.ph === "X" && e.name === "GET /v1/sequence/default"
        );
        assert.ok(requests.length > 0, "no request events");
        assert.ok(requests.every((e: { dur: number; ts: number }) => e.dur >= 0 && e.ts > 0));
      });
    } finally {
      service.kill("SIGTERM");
      await service.status;
      await Deno.remove(dir, { recursive: true });
    }
  });
}
