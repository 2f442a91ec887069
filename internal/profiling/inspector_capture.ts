/**
 * Captures V8 profiles of this process through `node:inspector` (Deno's inspector bridge).
 *
 * Needs `--allow-sys` (Deno checks the `inspector` sys kind when a session connects; the
 * narrowed form `--allow-sys=inspector` is rejected as an unknown descriptor on Deno 2.9, so the
 * bare flag is required). Heap snapshots (`HeapProfiler.takeHeapSnapshot`) hang on Deno 2.9 and are
 * never used; only the sampling heap profiler is.
 *
 * @module
 */
import { Session } from "node:inspector/promises";
import process from "node:process";
import type { V8CpuProfile, V8HeapProfile } from "./pprof_convert.ts";

/** How long a capture runs and what may stop it early. */
export interface CaptureWindow {
  /** Capture length, milliseconds. */
  durationMs: number;
  /** Aborting it (e.g. the client went away) ends the capture early. */
  signal?: AbortSignal;
}

/** The result of a capture: the profile plus when it ran. */
export interface Captured<P> {
  /** The V8 profile. */
  profile: P;
  /** Wall-clock start, milliseconds since the Unix epoch. */
  startedAtMs: number;
  /** Milliseconds the capture actually ran. */
  elapsedMs: number;
  /** Whether `signal` ended the capture before `durationMs`. */
  aborted: boolean;
}

/** Resolves after `ms`, or as soon as `signal` aborts; returns whether it was aborted. */
export function waitOrAbort(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function withSession<T>(use: (session: Session) => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  try {
    return await use(session);
  } finally {
    session.disconnect();
  }
}

/** Default CPU sampling interval: 1 ms, V8's default and 10× Go's 100 Hz. */
export const DEFAULT_CPU_SAMPLING_INTERVAL_MICROS = 1000;

/** CPU time (user + system) the calling thread has used, microseconds. */
export function threadCpuMicros(): number {
  const { user, system } = process.threadCpuUsage();
  return user + system;
}

/** CPU time (user + system) the whole process has used, every thread, microseconds. */
export function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Runs the V8 CPU profiler for the window and returns its `.cpuprofile`, with the CPU time the
 * thread used meanwhile in `threadCpuMicros` (V8 samples only the JavaScript part of it).
 */
export function captureCpuProfile(
  window: CaptureWindow & { samplingIntervalMicros?: number },
): Promise<Captured<V8CpuProfile>> {
  return withSession(async (session) => {
    await session.post("Profiler.enable");
    try {
      await session.post("Profiler.setSamplingInterval", {
        interval: window.samplingIntervalMicros ?? DEFAULT_CPU_SAMPLING_INTERVAL_MICROS,
      });
      const startedAtMs = Date.now();
      const t0 = performance.now();
      const cpu0 = threadCpuMicros();
      await session.post("Profiler.start");
      // waitOrAbort never rejects, so the profiler is always stopped.
      const aborted = await waitOrAbort(window.durationMs, window.signal);
      const { profile } = await session.post("Profiler.stop");
      const cpu = threadCpuMicros() - cpu0;
      return {
        profile: { ...(profile as V8CpuProfile), threadCpuMicros: cpu },
        startedAtMs,
        elapsedMs: performance.now() - t0,
        aborted,
      };
    } finally {
      await session.post("Profiler.disable");
    }
  });
}

/** Default heap sampling interval: 32 KiB between samples, V8's default. */
export const DEFAULT_HEAP_SAMPLING_INTERVAL_BYTES = 32768;

/**
 * Runs the V8 sampling heap profiler for the window. With `includeCollected` false the profile
 * holds the sampled allocations made during the window that are still live at its end (in use);
 * with true it also holds those already collected (every sampled allocation).
 */
export function captureHeapProfile(
  window: CaptureWindow & { samplingIntervalBytes?: number; includeCollected?: boolean },
): Promise<Captured<V8HeapProfile>> {
  return withSession(async (session) => {
    await session.post("HeapProfiler.enable");
    try {
      const collected = window.includeCollected ?? false;
      const startedAtMs = Date.now();
      const t0 = performance.now();
      await session.post("HeapProfiler.startSampling", {
        samplingInterval: window.samplingIntervalBytes ?? DEFAULT_HEAP_SAMPLING_INTERVAL_BYTES,
        includeObjectsCollectedByMajorGC: collected,
        includeObjectsCollectedByMinorGC: collected,
      });
      const aborted = await waitOrAbort(window.durationMs, window.signal);
      const { profile } = await session.post("HeapProfiler.stopSampling");
      return {
        profile: profile as V8HeapProfile,
        startedAtMs,
        elapsedMs: performance.now() - t0,
        aborted,
      };
    } finally {
      await session.post("HeapProfiler.disable");
    }
  });
}
