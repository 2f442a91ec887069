import assert from "node:assert/strict";
import { mergeCpuProfiles, mergeHeapProfiles, mergeTraces } from "../merge.ts";
import type { V8CallFrame, V8CpuProfile, V8HeapProfile } from "../pprof_convert.ts";
import type { TraceDocument, TraceEvent } from "../trace.ts";

const frame = (name: string): V8CallFrame => ({
  functionName: name,
  scriptId: "1",
  url: "file:///x.ts",
  lineNumber: 0,
  columnNumber: 0,
});

function cpu(startTime: number, name: string, times: number[]): V8CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { ...frame("(root)"), url: "" }, children: [2] },
      { id: 2, callFrame: frame(name) },
    ],
    startTime,
    endTime: startTime + 100,
    samples: times.map(() => 2),
    timeDeltas: times.map((t, i) => t - (i === 0 ? 0 : times[i - 1])),
  };
}

Deno.test("CPU profiles of several threads merge under thread frames, in time order", () => {
  const merged = mergeCpuProfiles([
    { thread: "main", profile: cpu(1000, "a", [10, 30]) },
    { thread: "api-worker-0", profile: cpu(1005, "b", [10, 15]) },
  ]);
  const byId = new Map(merged.nodes.map((n) => [n.id, n]));
  assert.equal(new Set(merged.nodes.map((n) => n.id)).size, merged.nodes.length, "ids collide");
  const root = merged.nodes[0];
  assert.deepEqual(
    root.children!.map((id) => byId.get(id)!.callFrame.functionName),
    ["(thread main)", "(thread api-worker-0)"],
  );
  // Absolute sample times: main 1010, 1030; worker 1015, 1020 → merged order a, b, b, a.
  assert.deepEqual(merged.samples!.map((id) => byId.get(id)!.callFrame.functionName), [
    "a",
    "b",
    "b",
    "a",
  ]);
  assert.deepEqual(merged.timeDeltas, [10, 5, 5, 10]);
  assert.equal(merged.startTime, 1000);
  assert.equal(merged.endTime, 1105);
});

Deno.test("one thread's profile is returned as it is", () => {
  const only = cpu(0, "a", [1]);
  assert.equal(mergeCpuProfiles([{ thread: "main", profile: only }]), only);
});

Deno.test("heap profiles merge with unique ids and samples pointing at the copies", () => {
  const heap = (name: string): V8HeapProfile => ({
    head: {
      id: 1,
      selfSize: 0,
      callFrame: frame("(root)"),
      children: [{ id: 2, selfSize: 64, callFrame: frame(name), children: [] }],
    },
    samples: [{ nodeId: 2, size: 64, ordinal: 1 }],
  });
  const merged = mergeHeapProfiles([
    { thread: "main", profile: heap("a") },
    { thread: "w", profile: heap("b") },
  ]);
  const all: { id: number; name: string }[] = [];
  const walk = (n: V8HeapProfile["head"]) => {
    all.push({ id: n.id, name: n.callFrame.functionName });
    n.children.forEach(walk);
  };
  walk(merged.head);
  assert.equal(new Set(all.map((n) => n.id)).size, all.length);
  const names = new Map(all.map((n) => [n.id, n.name]));
  assert.deepEqual(merged.samples!.map((s) => names.get(s.nodeId)), ["a", "b"]);
  assert.ok(all.some((n) => n.name === "(thread w)"));
});

function traceDoc(events: TraceEvent[], droppedEvents = 0): TraceDocument {
  const timed = events.filter((e) => e.ph !== "M").length;
  return {
    traceEvents: events,
    displayTimeUnit: "ms",
    otherData: { startedAtUs: 1, stoppedAtUs: 2, recordedEvents: timed, droppedEvents },
  };
}

const meta = (tid: number, name: string): TraceEvent => ({
  name: tid === 0 && name === "sequencer" ? "process_name" : "thread_name",
  ph: "M",
  ts: 0,
  pid: 7,
  tid,
  args: { name },
});

const span = (name: string, ts: number, tid = 1): TraceEvent => ({
  name,
  ph: "X",
  ts,
  dur: 5,
  pid: 7,
  tid,
});

Deno.test("traces merge onto the main clock with separate, named lanes", () => {
  const main = traceDoc([meta(0, "sequencer"), meta(0, "event loop"), span("GET /a", 500)]);
  const worker = traceDoc([
    meta(0, "sequencer"),
    meta(0, "event loop"),
    meta(1, "spans 1"),
    span("GET /b", 100),
  ]);
  const merged = mergeTraces(main, [{ thread: "api-worker-0", doc: worker, originShiftUs: 300 }]);
  const b = merged.traceEvents.find((e) => e.name === "GET /b")!;
  assert.equal(b.ts, 400);
  assert.equal(b.tid, 1001);
  assert.equal(merged.traceEvents.filter((e) => e.name === "process_name").length, 1);
  assert.ok(
    merged.traceEvents.some((e) => e.tid === 1001 && e.args?.name === "api-worker-0: spans 1"),
  );
  assert.ok(
    merged.traceEvents.some((e) => e.tid === 1000 && e.args?.name === "api-worker-0: event loop"),
  );
  const timed = merged.traceEvents.filter((e) => e.ph !== "M").map((e) => e.name);
  assert.deepEqual(timed, ["GET /b", "GET /a"]);
  assert.deepEqual(merged.otherData, {
    startedAtUs: 1,
    stoppedAtUs: 2,
    recordedEvents: 2,
    droppedEvents: 0,
    threads: [
      { thread: "main", recordedEvents: 1, droppedEvents: 0 },
      { thread: "api-worker-0", recordedEvents: 1, droppedEvents: 0 },
    ],
  });
});

Deno.test("a thread with more than 999 lanes does not share ids with the next", () => {
  const many = Array.from({ length: 1500 }, (_, i) => span(`w0 ${i}`, i, i + 1));
  const w0 = traceDoc([meta(0, "event loop"), ...many.map((e) => meta(e.tid, "x")), ...many]);
  const w1 = traceDoc([meta(0, "event loop"), meta(1, "spans 1"), span("w1", 0)]);
  const merged = mergeTraces(traceDoc([meta(0, "sequencer")]), [
    { thread: "api-worker-0", doc: w0, originShiftUs: 0 },
    { thread: "api-worker-1", doc: w1, originShiftUs: 0 },
  ]);
  const ids = merged.traceEvents.filter((e) => e.ph === "X").map((e) => e.tid);
  assert.equal(new Set(ids).size, ids.length, "every lane has its own id");
  const lanesOf = (prefix: string) =>
    new Set(
      merged.traceEvents.filter((e) => String(e.args?.name).startsWith(prefix)).map((e) => e.tid),
    );
  const w0Lanes = lanesOf("api-worker-0:");
  for (const tid of lanesOf("api-worker-1:")) assert.ok(!w0Lanes.has(tid), `tid ${tid} shared`);
});

Deno.test("the merged trace keeps the process's budget and sums what was dropped", () => {
  // Three threads with a budget of 9: three events each, the earliest ones.
  const main = traceDoc([meta(0, "sequencer"), meta(1, "spans 1"), span("m0", 0), span("m1", 1)]);
  const busy = Array.from({ length: 10 }, (_, i) => span(`w0 ${i}`, i, 1 + (i % 5)));
  const w0 = traceDoc(
    [meta(0, "event loop"), ...[1, 2, 3, 4, 5].map((l) => meta(l, `spans ${l}`)), ...busy],
    4,
  );
  const w1 = traceDoc([meta(0, "event loop")], 2);
  const merged = mergeTraces(main, [
    { thread: "api-worker-0", doc: w0, originShiftUs: 0 },
    { thread: "api-worker-1", doc: w1, originShiftUs: 0 },
  ], { maxEvents: 9 });
  const timed = merged.traceEvents.filter((e) => e.ph !== "M");
  assert.deepEqual(timed.map((e) => e.name).sort(), ["m0", "m1", "w0 0", "w0 1", "w0 2"]);
  assert.deepEqual(merged.otherData.threads, [
    { thread: "main", recordedEvents: 2, droppedEvents: 0 },
    { thread: "api-worker-0", recordedEvents: 3, droppedEvents: 4 + 7 },
    { thread: "api-worker-1", recordedEvents: 0, droppedEvents: 2 },
  ]);
  assert.equal(merged.otherData.recordedEvents, 5);
  assert.equal(merged.otherData.droppedEvents, 13);
  const laneNames = merged.traceEvents.filter((e) => e.name === "thread_name")
    .map((e) => String(e.args?.name));
  assert.deepEqual(laneNames.filter((n) => n.startsWith("api-worker-0: spans")), [
    "api-worker-0: spans 1",
    "api-worker-0: spans 2",
    "api-worker-0: spans 3",
  ], "lanes left empty are not named");
});
