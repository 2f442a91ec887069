/**
 * Merges V8 profiles taken in several threads of this process (the main thread and the API
 * workers) into one, so one `/debug/pprof/profile` shows the whole service. Each thread's tree
 * hangs under a pseudo-frame `(thread <name>)`, which `pprof -focus`/`-ignore` can select.
 * CPU samples are merged in time order (V8's monotonic clock is shared by the isolates of one
 * process), so DevTools shows one timeline.
 *
 * @module
 */
import type {
  V8CallFrame,
  V8CpuProfile,
  V8CpuProfileNode,
  V8HeapProfile,
  V8HeapProfileNode,
} from "./pprof_convert.ts";
import {
  byStart,
  COUNTER_TID,
  type ThreadEventCount,
  TRACE_MAX_EVENTS,
  type TraceDocument,
  type TraceEvent,
  traceShare,
} from "./trace.ts";

/** A profile and the thread it was taken in. */
export interface ThreadProfile<P> {
  /** Thread name, e.g. `main` or `api-worker-1`. */
  thread: string;
  /** The V8 profile. */
  profile: P;
}

function threadFrame(thread: string): V8CallFrame {
  return {
    functionName: `(thread ${thread})`,
    scriptId: "0",
    url: "",
    lineNumber: -1,
    columnNumber: -1,
  };
}

const ROOT_FRAME: V8CallFrame = {
  functionName: "(root)",
  scriptId: "0",
  url: "",
  lineNumber: -1,
  columnNumber: -1,
};

/** Merges CPU profiles of several threads; one profile is returned unchanged. */
export function mergeCpuProfiles(parts: ThreadProfile<V8CpuProfile>[]): V8CpuProfile {
  if (parts.length === 1) return parts[0].profile;
  const root: V8CpuProfileNode = { id: 1, callFrame: ROOT_FRAME, hitCount: 0, children: [] };
  const nodes: V8CpuProfileNode[] = [root];
  const timed: { at: number; id: number }[] = [];
  let offset = 1;
  let startTime = Infinity;
  let endTime = -Infinity;
  for (const { thread, profile } of parts) {
    const rename = (id: number) => id + offset;
    let maxId = 0;
    for (const node of profile.nodes) {
      maxId = Math.max(maxId, node.id);
      const isRoot = node.callFrame.functionName === "(root)";
      nodes.push({
        ...node,
        id: rename(node.id),
        callFrame: isRoot ? threadFrame(thread) : node.callFrame,
        children: (node.children ?? []).map(rename),
      });
      if (isRoot) root.children!.push(rename(node.id));
    }
    let at = profile.startTime;
    const deltas = profile.timeDeltas ?? [];
    (profile.samples ?? []).forEach((id, i) => {
      at += deltas[i] ?? 0;
      timed.push({ at, id: rename(id) });
    });
    startTime = Math.min(startTime, profile.startTime);
    endTime = Math.max(endTime, profile.endTime);
    offset += maxId;
  }
  timed.sort((a, b) => a.at - b.at);
  let previous = startTime;
  const timeDeltas = timed.map(({ at }) => {
    const delta = at - previous;
    previous = at;
    return delta;
  });
  return { nodes, startTime, endTime, samples: timed.map((s) => s.id), timeDeltas };
}

/** Merges sampling heap profiles of several threads; one profile is returned unchanged. */
export function mergeHeapProfiles(parts: ThreadProfile<V8HeapProfile>[]): V8HeapProfile {
  if (parts.length === 1) return parts[0].profile;
  let nextId = 2;
  const samples: NonNullable<V8HeapProfile["samples"]> = [];
  const children = parts.map(({ thread, profile }) => {
    const ids = new Map<number, number>();
    const copy = (node: V8HeapProfileNode, frame?: V8CallFrame): V8HeapProfileNode => {
      const id = nextId++;
      ids.set(node.id, id);
      return {
        callFrame: frame ?? node.callFrame,
        selfSize: node.selfSize,
        id,
        children: node.children.map((child) => copy(child)),
      };
    };
    const head = copy(profile.head, threadFrame(thread));
    for (const s of profile.samples ?? []) {
      samples.push({ ...s, nodeId: ids.get(s.nodeId) ?? s.nodeId });
    }
    return head;
  });
  return { head: { callFrame: ROOT_FRAME, selfSize: 0, id: 1, children }, samples };
}

/** One other thread's trace, as {@link mergeTraces} takes it. */
export interface ThreadTrace {
  /** Thread name, e.g. `api-worker-0`. */
  thread: string;
  /** Its document. */
  doc: TraceDocument;
  /** `(thread.timeOrigin - main.timeOrigin) * 1000`: moves its timestamps onto the main clock. */
  originShiftUs: number;
}

/**
 * Merges trace documents of several threads into the first (the main thread's). Each other
 * thread's lanes get their own id range and names prefixed with the thread's name; their
 * timestamps are moved onto the main thread's clock with `originShiftUs`. The other threads'
 * events are changed in place (they arrive as copies from their threads; a trace may hold a
 * hundred thousand of them, so they are not copied once more).
 *
 * The process's budget holds for the result whatever the threads kept: each thread keeps at most
 * its {@link traceShare} of `maxEvents` (its earliest events), the rest is counted as dropped,
 * and lane names of lanes left empty are left out. `otherData` sums the counts and lists them per
 * thread.
 */
export function mergeTraces(
  main: TraceDocument,
  others: ThreadTrace[],
  options: { maxEvents?: number } = {},
): TraceDocument {
  const share = traceShare(1 + others.length, options.maxEvents ?? TRACE_MAX_EVENTS);
  const pid = main.traceEvents[0]?.pid ?? 0;
  const meta: TraceEvent[] = [];
  const timed: TraceEvent[] = [];
  const threads: ThreadEventCount[] = [];
  let base = 0;
  [{ thread: "main", doc: main, originShiftUs: 0 }, ...others].forEach((part, i) => {
    const { thread, doc, originShiftUs } = part;
    const events = doc.traceEvents.filter((e) => e.ph !== "M");
    const kept = events.length > share ? events.slice(0, share) : events;
    const lanes = new Set(kept.map((e) => e.tid));
    let maxTid = 0;
    for (const event of doc.traceEvents) {
      maxTid = Math.max(maxTid, event.tid);
      if (event.ph !== "M") continue;
      if (event.name === "process_name") {
        if (i === 0) meta.push(event);
        continue;
      }
      if (event.tid !== COUNTER_TID && !lanes.has(event.tid)) continue;
      if (i > 0) {
        event.pid = pid;
        event.tid += base;
        event.args = { name: `${thread}: ${String(event.args?.name ?? "")}` };
      }
      meta.push(event);
    }
    for (const event of kept) {
      if (i > 0) {
        event.pid = pid;
        event.tid += base;
        event.ts += originShiftUs;
      }
      timed.push(event);
    }
    threads.push({
      thread,
      recordedEvents: kept.length,
      droppedEvents: (doc.otherData.droppedEvents ?? 0) + events.length - kept.length,
    });
    // The next thread's lanes start at the next multiple of 1000 above this one's.
    base += Math.ceil((maxTid + 1) / 1000) * 1000;
  });
  timed.sort(byStart);
  return {
    traceEvents: [...meta, ...timed],
    displayTimeUnit: "ms",
    otherData: {
      startedAtUs: main.otherData.startedAtUs,
      stoppedAtUs: main.otherData.stoppedAtUs,
      recordedEvents: timed.length,
      droppedEvents: threads.reduce((sum, t) => sum + t.droppedEvents, 0),
      threads,
    },
  };
}
