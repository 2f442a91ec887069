/**
 * Pure conversions from V8 inspector profiles to pprof `Profile`s (encoded with `pprof-format`),
 * and the gzip framing `go tool pprof` expects.
 *
 * What the pprof output holds:
 * - One pprof `Function` per distinct V8 function (name, file, start line); one `Location` per
 *   function. V8 reports where a function starts, not the line being executed in each caller, so
 *   every frame carries the function's start line (1-based).
 * - File names: `file://` URLs become plain paths (so `pprof -list` finds the sources); other
 *   script URLs (`ext:core/…`, `node:…`, `https://…`) are kept as they are.
 * - V8 reports lines of the JavaScript Deno runs; for TypeScript (types stripped and re-printed)
 *   those drift from the `.ts` source. The `mapLine` option (see source_map.ts) maps them back;
 *   without it, or where it knows no answer, the emitted line is used.
 * - One mapping, flagged as already symbolized, so `pprof` never asks `/debug/pprof/symbol`.
 * - With `native` (CPU profiles): the CPU time V8 does not sample, as the frames
 *   {@link NATIVE_FRAME} per thread and {@link OTHER_THREADS_FRAME}, so the profile's total is
 *   the process's CPU time over the window.
 *
 * @module
 */
import {
  Function as PprofFunction,
  Line,
  Location,
  Mapping,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from "pprof-format";
import type { LineMapper } from "./source_map.ts";

/** Where a V8 profile node runs (`Runtime.CallFrame`); line and column are 0-based. */
export interface V8CallFrame {
  /** Function name; empty for anonymous functions. */
  functionName: string;
  /** Script id inside the isolate. */
  scriptId: string;
  /** Script URL; empty for native pseudo-frames such as `(program)`. */
  url: string;
  /** 0-based line of the function start; `-1` when unknown. */
  lineNumber: number;
  /** 0-based column of the function start; `-1` when unknown. */
  columnNumber: number;
}

/** A node of a V8 CPU profile (`Profiler.ProfileNode`). */
export interface V8CpuProfileNode {
  /** Node id, unique within the profile. */
  id: number;
  /** The function this node stands for. */
  callFrame: V8CallFrame;
  /** Samples whose leaf was this node. */
  hitCount?: number;
  /** Ids of the callee nodes. */
  children?: number[];
  /** Sampled 1-based source lines of this node (DevTools only). */
  positionTicks?: { line: number; ticks: number }[];
}

/** A V8 CPU profile, as `Profiler.stop` returns it and as DevTools opens a `.cpuprofile` file. */
export interface V8CpuProfile {
  /** The call tree; the first node is `(root)`. */
  nodes: V8CpuProfileNode[];
  /** Start, microseconds on V8's monotonic clock. */
  startTime: number;
  /** End, microseconds on V8's monotonic clock. */
  endTime: number;
  /** Leaf node id of each sample, in time order. */
  samples?: number[];
  /** Microseconds between consecutive samples (the first one from `startTime`). */
  timeDeltas?: number[];
  /**
   * Not V8's: the CPU time (user + system, microseconds) the profiled thread used over the
   * capture, measured by the thread itself (`captureCpuProfile`); V8 samples only its JavaScript.
   */
  threadCpuMicros?: number;
}

/** A node of a V8 sampling heap profile (`HeapProfiler.SamplingHeapProfileNode`). */
export interface V8HeapProfileNode {
  /** The allocating function. */
  callFrame: V8CallFrame;
  /** Estimated bytes allocated by this function itself (V8's sampling estimate). */
  selfSize: number;
  /** Node id, unique within the profile. */
  id: number;
  /** Callees. */
  children: V8HeapProfileNode[];
}

/** A V8 sampling heap profile, as `HeapProfiler.stopSampling` returns it. */
export interface V8HeapProfile {
  /** Root of the allocation call tree (`(root)`). */
  head: V8HeapProfileNode;
  /** The individual samples; not needed for the conversion. */
  samples?: { size: number; nodeId: number; ordinal: number }[];
}

/** Extra facts the V8 CPU profile does not carry. */
export interface CpuConversionOptions {
  /** Wall-clock start of the capture, nanoseconds since the Unix epoch. */
  timeNanos: bigint;
  /** The sampling interval the profiler ran with, microseconds. */
  samplingIntervalMicros: number;
  /** Free-text comments shown by `pprof -comments`. */
  comments?: string[];
  /** Maps emitted (JavaScript) positions to source lines; see source_map.ts. */
  mapLine?: LineMapper;
  /** The CPU time V8 cannot see, to add as native frames (see {@link NativeCpu}). */
  native?: NativeCpu;
}

/**
 * CPU time measured over a profile's window, to account for what V8's samples miss: V8 samples
 * JavaScript only, and counts a thread as idle while it runs Deno's Rust code (the HTTP engine,
 * I/O, the event loop), so under load its samples show a small part of the CPU the process used.
 */
export interface NativeCpu {
  /** CPU time of the whole process over the window, every thread included (microseconds). */
  processMicros: number;
  /**
   * CPU time each profiled thread used over the window (microseconds), by the name its
   * `(thread <name>)` frame carries; for a profile of one thread (no such frames), one entry.
   * A thread whose time is unknown is counted with the other threads.
   */
  threads: { thread: string; cpuMicros: number | undefined }[];
}

/**
 * The frame added under each thread for its CPU time outside JavaScript: the thread's measured
 * CPU time minus its JavaScript samples.
 */
export const NATIVE_FRAME = "(native: Deno runtime, HTTP, I/O)";

/**
 * The frame added at the top for the CPU time of the threads that were not profiled (the
 * store's thread, V8's compiler and garbage collector helpers, Deno's thread pools, the
 * profiler itself): the process's CPU time minus every profiled thread's.
 */
export const OTHER_THREADS_FRAME = "(native: other threads: store, V8 helpers, runtime pools)";

/** A pseudo-frame of the profile: a name, no script. */
function pseudoFrame(functionName: string): V8CallFrame {
  return { functionName, scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 };
}

/** Extra facts the V8 heap profile does not carry. */
export interface HeapConversionOptions {
  /** Wall-clock start of the capture, nanoseconds since the Unix epoch. */
  timeNanos: bigint;
  /** Length of the capture window, nanoseconds. */
  durationNanos: bigint;
  /** Mean bytes between samples the heap profiler ran with. */
  samplingIntervalBytes: number;
  /** Free-text comments shown by `pprof -comments`. */
  comments?: string[];
  /** Maps emitted (JavaScript) positions to source lines; see source_map.ts. */
  mapLine?: LineMapper;
}

/** V8 pseudo-frame for time spent outside JavaScript while the thread was idle. */
const IDLE = "(idle)";
/** V8's root pseudo-frame; pprof has an implicit root. */
const ROOT = "(root)";

/** Turns a script URL into the file name pprof shows: `file://` URLs become paths. */
export function scriptFileName(url: string): string {
  if (!url.startsWith("file://")) return url;
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}

/** Builds the string table, functions, locations and mapping shared by both conversions. */
class PprofBuilder {
  readonly strings = new StringTable();
  readonly functions: PprofFunction[] = [];
  readonly locations: Location[] = [];
  readonly mapping = new Mapping({
    id: 1,
    hasFunctions: true,
    hasFilenames: true,
    hasLineNumbers: true,
    hasInlineFrames: false,
  });
  readonly #locationByKey = new Map<string, number>();
  readonly #mapLine: LineMapper | undefined;

  constructor(mapLine?: LineMapper) {
    this.#mapLine = mapLine;
  }

  /** Whether a location for this call frame exists already. */
  hasLocation(frame: V8CallFrame): boolean {
    return this.#locationByKey.has(PprofBuilder.#key(frame));
  }

  static #key(frame: V8CallFrame): string {
    return `${frame.scriptId}\0${frame.url}\0${frame.functionName}\0${frame.lineNumber}\0${frame.columnNumber}`;
  }

  /** The location id for a call frame, created on first use. */
  locationId(frame: V8CallFrame): number {
    const key = PprofBuilder.#key(frame);
    const known = this.#locationByKey.get(key);
    if (known !== undefined) return known;
    const id = this.locations.length + 1;
    const line0 = frame.lineNumber < 0
      ? -1
      : this.#mapLine?.(frame.url, frame.lineNumber, frame.columnNumber) ?? frame.lineNumber;
    const line = line0 + 1;
    const name = this.strings.dedup(frame.functionName === "" ? "(anonymous)" : frame.functionName);
    const fn = new PprofFunction({
      id,
      name,
      systemName: name,
      filename: this.strings.dedup(scriptFileName(frame.url)),
      startLine: line,
    });
    this.functions.push(fn);
    this.locations.push(
      new Location({ id, mappingId: this.mapping.id, line: [new Line({ functionId: id, line })] }),
    );
    this.#locationByKey.set(key, id);
    return id;
  }

  valueType(type: string, unit: string): ValueType {
    return new ValueType({ type: this.strings.dedup(type), unit: this.strings.dedup(unit) });
  }

  profile(fields: {
    sampleType: ValueType[];
    sample: Sample[];
    periodType: ValueType;
    period: number;
    timeNanos: bigint;
    durationNanos: bigint;
    comments: string[];
  }): Profile {
    return new Profile({
      sampleType: fields.sampleType,
      sample: fields.sample,
      mapping: [this.mapping],
      location: this.locations,
      function: this.functions,
      stringTable: this.strings,
      timeNanos: fields.timeNanos,
      durationNanos: fields.durationNanos,
      periodType: fields.periodType,
      period: fields.period,
      comment: fields.comments.map((c) => this.strings.dedup(c)),
    });
  }
}

/**
 * Converts a V8 CPU profile into a pprof profile with sample types `samples/count` and
 * `cpu/nanoseconds` (period type `cpu/nanoseconds`), like Go's CPU profile.
 *
 * Each sample's time is the gap to the next sample (the last one runs to `endTime`); negative
 * gaps, which V8 occasionally reports, count as zero. Samples whose leaf is `(idle)` are left
 * out, since they are not CPU time. A profile without `samples` falls back to `hitCount` times
 * the sampling interval.
 */
export function cpuProfileToPprof(profile: V8CpuProfile, options: CpuConversionOptions): Profile {
  const builder = new PprofBuilder(options.mapLine);
  const byId = new Map<number, V8CpuProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  const counts = new Map<number, number>();
  const nanos = new Map<number, number>();
  const intervalNanos = options.samplingIntervalMicros * 1000;
  if (profile.samples !== undefined && profile.samples.length > 0) {
    const samples = profile.samples;
    const deltas = profile.timeDeltas ?? [];
    const times: number[] = [];
    let at = profile.startTime;
    for (let i = 0; i < samples.length; i++) times.push(at += deltas[i] ?? 0);
    // A sample lasts until the next sample of its thread: in a merged profile the threads'
    // samples interleave on one timeline, and the next sample may be another thread's.
    const threadOf = threadLanes(profile, parent);
    const nextInThread = new Map<number, number>();
    for (let i = samples.length - 1; i >= 0; i--) {
      const id = samples[i];
      const lane = threadOf(id);
      const next = nextInThread.get(lane) ?? profile.endTime;
      nextInThread.set(lane, times[i]);
      counts.set(id, (counts.get(id) ?? 0) + 1);
      nanos.set(id, (nanos.get(id) ?? 0) + Math.max(0, next - times[i]) * 1000);
    }
  } else {
    for (const node of profile.nodes) {
      if ((node.hitCount ?? 0) > 0) {
        counts.set(node.id, node.hitCount!);
        nanos.set(node.id, node.hitCount! * intervalNanos);
      }
    }
  }

  const stackCache = new Map<number, number[]>();
  const stackOf = (id: number): number[] => {
    const cached = stackCache.get(id);
    if (cached !== undefined) return cached;
    const stack: number[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node === undefined || node.callFrame.functionName === ROOT) continue;
      stack.push(builder.locationId(node.callFrame));
    }
    stackCache.set(id, stack);
    return stack;
  };

  const sample: Sample[] = [];
  /** JavaScript nanoseconds by the outermost frame's location (the thread, when merged). */
  const jsByOutermost = new Map<number, number>();
  for (const [id, count] of counts) {
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === IDLE) continue;
    const stack = stackOf(id);
    if (stack.length === 0) continue;
    const ns = Math.round(nanos.get(id) ?? 0);
    sample.push(new Sample({ locationId: stack, value: [count, ns] }));
    const outermost = stack[stack.length - 1];
    jsByOutermost.set(outermost, (jsByOutermost.get(outermost) ?? 0) + ns);
  }
  const comments = [...(options.comments ?? [])];
  if (options.native !== undefined) {
    const added = nativeSamples(options.native, { builder, jsByOutermost, intervalNanos });
    sample.push(...added.samples);
    comments.push(
      `CPU outside JavaScript added as ${NATIVE_FRAME} per thread and ${OTHER_THREADS_FRAME}: ` +
        `${Math.round(added.nanos / 1e6)} ms of the process's ` +
        `${Math.round(options.native.processMicros / 1000)} ms over the window`,
    );
  }

  const cpu = builder.valueType("cpu", "nanoseconds");
  return builder.profile({
    sampleType: [builder.valueType("samples", "count"), cpu],
    sample,
    periodType: cpu,
    period: intervalNanos,
    timeNanos: options.timeNanos,
    durationNanos: BigInt(Math.max(0, Math.round((profile.endTime - profile.startTime) * 1000))),
    comments,
  });
}

/**
 * Which thread a node belongs to: in a merged profile (every child of the root a
 * `(thread <name>)` frame, see merge.ts) the id of its thread's frame, else 0 for all.
 */
function threadLanes(
  profile: V8CpuProfile,
  parent: Map<number, number>,
): (id: number) => number {
  const root = profile.nodes.find((n) => n.callFrame.functionName === ROOT && !parent.has(n.id));
  const tops = root?.children ?? [];
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const merged = tops.length > 0 &&
    tops.every((id) => byId.get(id)?.callFrame.functionName.startsWith("(thread ") === true);
  if (!merged) return () => 0;
  const lanes = new Map<number, number>();
  const laneOf = (id: number): number => {
    const known = lanes.get(id);
    if (known !== undefined) return known;
    const up = parent.get(id);
    const lane = up === undefined || up === root!.id ? id : laneOf(up);
    lanes.set(id, lane);
    return lane;
  };
  return laneOf;
}

/**
 * The samples that account for the CPU time V8 did not sample: per profiled thread its measured
 * CPU time minus its JavaScript samples, under its `(thread <name>)` frame when the profile has
 * one; and the process's CPU time minus every profiled thread's, at the top. A thread whose
 * JavaScript samples exceed its measured time gets no native sample (its samples are wall-clock
 * gaps, which can hold time the thread spent waiting for a core).
 */
function nativeSamples(
  native: NativeCpu,
  context: { builder: PprofBuilder; jsByOutermost: Map<number, number>; intervalNanos: number },
): { samples: Sample[]; nanos: number } {
  const { builder, jsByOutermost, intervalNanos } = context;
  const samples: Sample[] = [];
  let nanos = 0;
  const add = (stack: number[], ns: number) => {
    if (ns <= 0) return;
    nanos += ns;
    samples.push(new Sample({ locationId: stack, value: [Math.round(ns / intervalNanos), ns] }));
  };
  const nativeId = builder.locationId(pseudoFrame(NATIVE_FRAME));
  const single = native.threads.length === 1 &&
    !builder.hasLocation(pseudoFrame(`(thread ${native.threads[0].thread})`));
  const jsTotal = [...jsByOutermost.values()].reduce((sum, ns) => sum + ns, 0);
  let accounted = 0;
  for (const { thread, cpuMicros } of native.threads) {
    const threadId = single ? undefined : builder.locationId(pseudoFrame(`(thread ${thread})`));
    const js = single ? jsTotal : jsByOutermost.get(threadId!) ?? 0;
    if (cpuMicros === undefined) {
      accounted += js;
      continue;
    }
    const cpu = Math.round(cpuMicros * 1000);
    add(threadId === undefined ? [nativeId] : [nativeId, threadId], cpu - js);
    accounted += Math.max(cpu, js);
  }
  const others = Math.round(native.processMicros * 1000) - accounted;
  add([builder.locationId(pseudoFrame(OTHER_THREADS_FRAME))], others);
  return { samples, nanos };
}

/**
 * Converts a V8 sampling heap profile into a pprof profile with the one sample type
 * `space/bytes` (also the period type, with the sampling interval as period).
 *
 * Each node's `selfSize` is V8's own estimate of the bytes that function allocated. No
 * `objects/count` is given: on Deno 2.9's V8 a sample's `size` is the sampling step plus the
 * object's size, not the object's size, so object counts cannot be recovered honestly.
 */
export function heapProfileToPprof(
  profile: V8HeapProfile,
  options: HeapConversionOptions,
): Profile {
  const builder = new PprofBuilder();
  const sample: Sample[] = [];
  const pending: { node: V8HeapProfileNode; stack: number[] }[] = [{
    node: profile.head,
    stack: [],
  }];
  while (pending.length > 0) {
    const { node, stack: callerStack } = pending.pop()!;
    const stack = node.callFrame.functionName === ROOT && callerStack.length === 0
      ? callerStack
      : [builder.locationId(node.callFrame), ...callerStack];
    if (node.selfSize > 0 && stack.length > 0) {
      sample.push(new Sample({ locationId: stack, value: [Math.round(node.selfSize)] }));
    }
    for (const child of node.children) pending.push({ node: child, stack });
  }
  const space = builder.valueType("space", "bytes");
  return builder.profile({
    sampleType: [space],
    sample,
    periodType: space,
    period: options.samplingIntervalBytes,
    timeNanos: options.timeNanos,
    durationNanos: options.durationNanos,
    comments: options.comments ?? [],
  });
}

/** Every script URL a CPU profile mentions (to load source maps for). */
export function cpuProfileUrls(profile: V8CpuProfile): Set<string> {
  return new Set(profile.nodes.map((n) => n.callFrame.url));
}

/** Every script URL a sampling heap profile mentions (to load source maps for). */
export function heapProfileUrls(profile: V8HeapProfile): Set<string> {
  const urls = new Set<string>();
  const pending = [profile.head];
  while (pending.length > 0) {
    const node = pending.pop()!;
    urls.add(node.callFrame.url);
    pending.push(...node.children);
  }
  return urls;
}

/** Encodes a pprof profile as gzipped protobuf, the form `go tool pprof` fetches over HTTP. */
export async function encodePprofGzip(profile: Profile): Promise<Uint8Array<ArrayBuffer>> {
  const raw = await profile.encodeAsync();
  const gzipped = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(gzipped).arrayBuffer());
}

/** Reverses {@link encodePprofGzip}: gunzips and decodes a pprof profile. */
export async function decodePprofGzip(bytes: Uint8Array<ArrayBuffer>): Promise<Profile> {
  const raw = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return Profile.decode(new Uint8Array(await new Response(raw).arrayBuffer()));
}
