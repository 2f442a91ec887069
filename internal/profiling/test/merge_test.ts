import assert from "node:assert/strict";
import { mergeCpuProfiles, mergeHeapProfiles, mergeTraces } from "../merge.ts";
import type { V8CallFrame, V8CpuProfile, V8HeapProfile } from "../pprof_convert.ts";
import type { TraceDocument } from "../trace.ts";

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

Deno.test("traces merge onto the main clock with separate, named lanes", () => {
  const doc = (events: TraceDocument["traceEvents"]): TraceDocument => ({
    traceEvents: events,
    displayTimeUnit: "ms",
    otherData: {},
  });
  const main = doc([
    { name: "process_name", ph: "M", ts: 0, pid: 7, tid: 0, args: { name: "sequencer" } },
    { name: "GET /a", ph: "X", ts: 500, dur: 5, pid: 7, tid: 1 },
  ]);
  const worker = doc([
    { name: "process_name", ph: "M", ts: 0, pid: 7, tid: 0, args: { name: "sequencer" } },
    { name: "thread_name", ph: "M", ts: 0, pid: 7, tid: 1, args: { name: "spans 1" } },
    { name: "GET /b", ph: "X", ts: 100, dur: 5, pid: 7, tid: 1 },
  ]);
  const merged = mergeTraces(main, [{ thread: "api-worker-0", doc: worker, originShiftUs: 300 }]);
  const b = merged.traceEvents.find((e) => e.name === "GET /b")!;
  assert.equal(b.ts, 400);
  assert.equal(b.tid, 1001);
  assert.equal(merged.traceEvents.filter((e) => e.name === "process_name").length, 1);
  assert.ok(
    merged.traceEvents.some((e) => e.tid === 1001 && e.args?.name === "api-worker-0: spans 1"),
  );
  const timed = merged.traceEvents.filter((e) => e.ph !== "M").map((e) => e.name);
  assert.deepEqual(timed, ["GET /b", "GET /a"]);
});
