/**
 * A trace of a real service flooded with 60 KB URLs stays within its memory budget: the answer's
 * size, every recorded field, the count of dropped events and the process's resident memory.
 */
import assert from "node:assert/strict";
import { type ServiceProcess, startService } from "../../launch/service.ts";
import {
  TRACE_EVENT_JSON_MAX,
  TRACE_PATH_MAX,
  TRACE_RSS_BASE,
  TRACE_RSS_PER_EVENT,
  type TraceDocument,
  traceJsonBytesMax,
} from "../../profiling/trace.ts";

/** Length of the flood's URL paths. */
const PATH_BYTES = 60_000;
/** A valid route whose error answer is short (it quotes 80 characters of the name). */
const FLOOD_PATH = `/v1/sequence/${"a".repeat(PATH_BYTES - "/v1/sequence/".length)}`;
const CLIENTS = 8;

/**
 * `VmRSS` or `VmHWM` (peak) of a process, in bytes. Read by `cat`: Deno lets a process read
 * `/proc/<pid>/` only under `--allow-all`.
 */
async function memory(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const status = new TextDecoder().decode(out.stdout);
  const kb = status.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"));
  assert.ok(kb, `${field} in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

/** The service's pid, from its `starting` log line. */
function pidOf(service: ServiceProcess): number {
  const starting = service.lines.map((l) => JSON.parse(l)).find((e) => e.msg === "starting");
  assert.ok(Number.isInteger(starting?.pid), "the starting line has the pid");
  return starting.pid;
}

/**
 * `CLIENTS` keep-alive connections, each sending `GET <60 KB path>` as fast as the answers come
 * back, until `stop` settles; resolves with how many were answered.
 */
async function flood(api: string, stop: Promise<unknown>): Promise<number> {
  let done = false;
  const finish = () => (done = true);
  stop.then(finish, finish);
  const { hostname, port } = new URL(api);
  const request = new TextEncoder().encode(
    `GET ${FLOOD_PATH} HTTP/1.1\r\nHost: sequencer.test\r\n\r\n`,
  );
  let answered = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const buffer = new Uint8Array(64 * 1024);
    const decoder = new TextDecoder();
    try {
      while (!done) {
        await conn.write(request);
        let text = "";
        let end = -1;
        while (end < 0 || text.length < end) {
          const n = await conn.read(buffer);
          if (n === null) throw new Error("the service closed a flood connection");
          text += decoder.decode(buffer.subarray(0, n));
          const head = text.indexOf("\r\n\r\n");
          if (end < 0 && head >= 0) {
            assert.match(text, /^HTTP\/1\.1 400 /);
            end = head + 4 + Number(/content-length: (\d+)/i.exec(text)![1]);
          }
        }
        answered++;
      }
    } finally {
      conn.close();
    }
  }));
  return answered;
}

/** Fetches a trace; its document and its size in bytes. */
async function traceOf(url: string): Promise<{ doc: TraceDocument; bytes: number }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { doc: JSON.parse(text), bytes: new TextEncoder().encode(text).byteLength };
}

/** The per-thread counts add up to the totals, and the totals to the document. */
function assertCounts(doc: TraceDocument): void {
  const threads = doc.otherData.threads!;
  assert.deepEqual(threads.map((t) => t.thread), ["main", "api-worker-0"]);
  const timed = doc.traceEvents.filter((e) => e.ph !== "M").length;
  assert.equal(doc.otherData.recordedEvents, timed);
  assert.equal(threads.reduce((sum, t) => sum + t.recordedEvents, 0), timed);
  assert.equal(
    doc.otherData.droppedEvents,
    threads.reduce((sum, t) => sum + t.droppedEvents, 0),
  );
}

Deno.test("WORKERS=1: a trace under a flood of 60 KB URLs stays within its budget", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "sequencer-trace-budget-" });
  const service = await startService({ DATA_DIR: dir, WORKERS: "1" });
  const pid = pidOf(service);
  try {
    await t.step("20 s at the default budget: bounded answer, fields and memory", async () => {
      const before = await memory(pid, "VmRSS");
      const trace = traceOf(`${service.debug}/debug/pprof/trace?seconds=20`);
      const [answered, { doc, bytes }] = await Promise.all([flood(service.api, trace), trace]);
      const peak = await memory(pid, "VmHWM");

      assert.ok(bytes <= traceJsonBytesMax(2), `${bytes} bytes`);
      assertCounts(doc);
      const requests = doc.traceEvents.filter((e) => e.cat === "http");
      assert.ok(requests.length > 0, `no request recorded of ${answered} answered`);
      const cut = `GET ${FLOOD_PATH.slice(0, TRACE_PATH_MAX)}…`;
      for (const event of requests) {
        assert.equal(event.name, cut);
        assert.deepEqual(event.args, { pathBytes: PATH_BYTES, status: 400 });
        const eventBytes = new TextEncoder().encode(JSON.stringify(event)).byteLength;
        assert.ok(eventBytes <= TRACE_EVENT_JSON_MAX, `${eventBytes} bytes`);
      }
      const recorded = doc.otherData.recordedEvents;
      const bound = TRACE_RSS_BASE + TRACE_RSS_PER_EVENT * recorded;
      const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
      assert.ok(
        peak - before <= bound,
        `RSS ${mb(before)} before, peak ${mb(peak)}: grew more than ${mb(bound)} for ` +
          `${recorded} events (${answered} requests answered)`,
      );
    });

    await t.step("max_events=1000: the flood's extra events are dropped and counted", async () => {
      const trace = traceOf(`${service.debug}/debug/pprof/trace?seconds=5&max_events=1000`);
      const [answered, { doc }] = await Promise.all([flood(service.api, trace), trace]);
      assertCounts(doc);
      const [main, worker] = doc.otherData.threads!;
      assert.ok(main.recordedEvents <= 500 && worker.recordedEvents <= 500);
      assert.ok(worker.droppedEvents > 0, `${answered} answered, none dropped`);
      assert.ok(worker.recordedEvents + worker.droppedEvents <= answered + CLIENTS);
    });
  } finally {
    service.kill("SIGTERM");
    const status = await service.status;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, status.stderr);
  }
});
