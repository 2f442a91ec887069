/**
 * Ending the process when Deno exports OpenTelemetry metrics. `Deno.exit` flushes Deno's exporters
 * and waits for them. A periodic metrics export first asks every thread to observe its
 * instruments and waits for all of them; when it asks the main thread just as that thread enters
 * `Deno.exit`, the flush waits for an observation the blocked thread can never make, and the
 * process hangs for good after a clean shutdown (Deno 2.9.6; seen here about once in 40 SIGTERMs
 * with a 200 ms export interval on a loaded machine). So, with metrics on, {@link exitProcess}:
 *
 * 1. waits for the next observation to finish (at most {@link OBSERVATION_WAIT_MS}), so that the
 *    exit starts right after one instead of in the middle of one;
 * 2. arms a watchdog thread that, if the process still exists {@link EXIT_LIMIT_MS} later, logs
 *    one line and ends it with SIGKILL (status 137). Everything was already shut down and saved
 *    by then: only the last telemetry is lost.
 *
 * Without metrics it is `Deno.exit`.
 *
 * @module
 */
import { metrics } from "@opentelemetry/api";
import { failpointIs } from "../config/failpoint.ts";
import type { Logger } from "../log/log.ts";
import { metricsEnabled, SCOPE } from "./otel.ts";

/** Longest wait for the next observation of the instruments (ms). */
export const OBSERVATION_WAIT_MS = 1_000;

/**
 * Time Deno's exit flush may take before the watchdog ends the process (ms): the OTLP exporter's
 * own 10 s timeout, and a margin.
 */
export const EXIT_LIMIT_MS = 15_000;

/** What the watchdog thread is sent: its limit (ms) and the exit code the process was ending with. */
export interface WatchdogOrder {
  limitMs: number;
  code: number;
}

/** Resolves after the next observation of the instruments, or after `waitMs`. */
function nextObservation(waitMs: number): Promise<void> {
  const meter = metrics.getMeter(SCOPE);
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      meter.removeBatchObservableCallback(observed, []);
      // A macrotask later the runtime has reported the observation as finished.
      setTimeout(resolve, 0);
    };
    const observed = () => done();
    const timer = setTimeout(done, waitMs);
    meter.addBatchObservableCallback(observed, []);
  });
}

/** Starts the watchdog thread; resolves once it has its order. */
function armWatchdog(order: WatchdogOrder): Promise<void> {
  const worker = new Worker(new URL("./exit_watchdog.ts", import.meta.url), { type: "module" });
  return new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
    worker.onerror = (event) => {
      event.preventDefault();
      resolve(); // no watchdog: the exit goes on without one
    };
    worker.postMessage(order);
  });
}

/**
 * Ends the process with `code`, after the precautions above when OpenTelemetry metrics are
 * exported.
 */
export async function exitProcess(code: number, logger: Logger): Promise<never> {
  if (metricsEnabled()) {
    const blocks = failpointIs("exit-blocks");
    await nextObservation(OBSERVATION_WAIT_MS);
    await armWatchdog({ limitMs: blocks ? 1_000 : EXIT_LIMIT_MS, code });
    if (blocks) {
      logger.warn("failpoint exit-blocks: the main thread blocks");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
  }
  Deno.exit(code);
}
