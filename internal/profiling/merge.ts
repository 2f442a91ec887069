/**
 * Merges V8 profiles taken in several threads of this process (the main thread and the API
 * workers) into one, so one `/debug/pprof/profile` shows the whole service. Each thread's tree
 * hangs under a pseudo-frame `(thread <name>)`, which `pprof -focus`/`-ignore` can select.
 * CPU samples are merged in time order (V8's monotonic clock is shared by the isolates of one
 * process), so DevTools shows one timeline. Pure functions.
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
import type { TraceDocument } from "./trace.ts";

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

/**
 * Merges trace documents of several threads into the first (the main thread's). Each other
 * thread's lanes get their own id range and names prefixed with the thread's name; their
 * timestamps are moved onto the main thread's clock with `originShiftUs`
 * (`(thread.timeOrigin - main.timeOrigin) * 1000`).
 */
export function mergeTraces(
  main: TraceDocument,
  others: { thread: string; doc: TraceDocument; originShiftUs: number }[],
): TraceDocument {
  const events = [...main.traceEvents];
  const pid = main.traceEvents[0]?.pid ?? 0;
  others.forEach(({ thread, doc, originShiftUs }, i) => {
    const base = (i + 1) * 1000;
    for (const event of doc.traceEvents) {
      if (event.ph === "M") {
        if (event.name !== "thread_name") continue;
        events.push({
          ...event,
          pid,
          tid: base + event.tid,
          args: { name: `${thread}: ${String(event.args?.name ?? "")}` },
        });
        continue;
      }
      events.push({ ...event, pid, tid: base + event.tid, ts: event.ts + originShiftUs });
    }
  });
  const meta = events.filter((e) => e.ph === "M");
  const rest = events.filter((e) => e.ph !== "M").sort((a, b) =>
    a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0)
  );
  return {
    ...main,
    traceEvents: [...meta, ...rest],
    otherData: { ...main.otherData, threads: ["main", ...others.map((o) => o.thread)] },
  };
}
